"""The demo's label vocabulary: relationships, interactions, their signatures and correlations.

Relationships: the paper's 15 classes (Sec. 4.2) with fine words merged into them (as MovieGraphs'
106 -> 15) and an opposite for the reverse direction of a pair (an involution, so that
``rel(b, a) == opposite(rel(a, b))`` holds both ways).

Interactions: each merged class is defined by its *signature*, a pair (visual pattern, dialog
pattern), either of which may be absent:

- visual only (dialog absent): the two characters move in a typical way (approach, chase, ...);
- dialog only (visual "still"): the subject says sentences with lexical cues while standing;
- both: a visual pattern shared with a visual-only class *and* a dialog pattern shared with a
  dialog-only class, so that neither modality alone tells it apart (e.g. *consoles* = hug +
  comforting words, vs *hugs* and *reassures*).

Several fine labels map to one merged class (as MovieGraphs' 324 -> 101), written to
``merged_interactions.txt``. ``AFFINITY`` says which interactions a relationship favours (the
paper's Figure 2); the generator turns it into ``P(interaction | relationship)``.
"""
from __future__ import annotations

from dataclasses import dataclass

# --- relationships -----------------------------------------------------------------------------------

# The paper's 15 classes (Sec. 4.2), in that order: the order of the opposites file = class ids.
RELATIONSHIP_CLASSES: tuple[str, ...] = (
    "stranger", "friend", "colleague", "lover", "enemy", "acquaintance", "ex-lover", "boss",
    "worker", "manager", "customer", "knows-by-reputation", "parent", "child", "sibling",
)

# Opposite direction of each class (relships_15_opp.txt). An involution.
OPPOSITE_RELATIONSHIP: dict[str, str] = {
    "stranger": "stranger", "friend": "friend", "colleague": "colleague", "lover": "lover",
    "enemy": "enemy", "acquaintance": "acquaintance", "ex-lover": "ex-lover", "boss": "worker",
    "worker": "boss", "manager": "customer", "customer": "manager",
    "knows-by-reputation": "knows-by-reputation", "parent": "child", "child": "parent",
    "sibling": "sibling",
}

# Fine relationship words (what annotators wrote) -> class (relships_many2_15.txt).
FINE_RELATIONSHIPS: dict[str, tuple[str, ...]] = {
    "stranger": ("stranger", "passer-by"),
    "friend": ("friend", "best friend", "buddy"),
    "colleague": ("colleague", "coworker", "partner"),
    "lover": ("lover", "boyfriend", "girlfriend", "husband", "wife"),
    "enemy": ("enemy", "rival", "kidnapper"),
    "acquaintance": ("acquaintance", "neighbor"),
    "ex-lover": ("ex-lover", "ex-boyfriend", "ex-wife"),
    "boss": ("boss", "employer", "supervisor"),
    "worker": ("worker", "employee", "assistant"),
    "manager": ("manager", "shopkeeper", "agent"),
    "customer": ("customer", "client", "patron"),
    "knows-by-reputation": ("knows by reputation", "fan of"),
    "parent": ("parent", "mother", "father"),
    "child": ("child", "son", "daughter"),
    "sibling": ("sibling", "brother", "sister"),
}

# Prior of a labelled unordered pair's relationship (first direction; the other is the opposite),
# loosely following the MovieGraphs label counts (stranger and friend most common).
RELATIONSHIP_PRIOR: dict[str, float] = {
    "stranger": 0.16, "friend": 0.16, "colleague": 0.10, "lover": 0.09, "enemy": 0.07,
    "acquaintance": 0.08, "ex-lover": 0.04, "boss": 0.04, "worker": 0.03, "manager": 0.03,
    "customer": 0.02, "knows-by-reputation": 0.04, "parent": 0.05, "child": 0.04, "sibling": 0.05,
}

# --- interactions -------------------------------------------------------------------------------------

VISUAL_PATTERNS: tuple[str, ...] = (
    "approach", "leave", "chase", "hit", "hug", "hand_over", "walk_together", "push", "wave", "dance",
)
STILL = "still"  # the visual pattern of dialog-only interactions: the two face each other


@dataclass(frozen=True)
class InteractionClass:
    """A merged interaction class: its signature and the fine labels annotators used for it."""

    name: str
    visual: str | None         # a VISUAL_PATTERNS entry, or None (dialog only: stand still)
    dialog: str | None         # a DIALOG_CUES key, or None (visual only)
    fine: tuple[str, ...]

    @property
    def modality(self) -> str:
        """"visual", "dialog" or "both": which modality carries the signature."""
        if self.visual and self.dialog:
            return "both"
        return "visual" if self.visual else "dialog"

    @property
    def motion(self) -> str:
        return self.visual or STILL


INTERACTION_CLASSES: tuple[InteractionClass, ...] = (
    # visual only
    InteractionClass("approaches", "approach", None, ("approaches", "walks towards")),
    InteractionClass("leaves", "leave", None, ("leaves", "walks away from")),
    InteractionClass("chases", "chase", None, ("chases", "runs after")),
    InteractionClass("hits", "hit", None, ("hits", "punches", "slaps")),
    InteractionClass("hugs", "hug", None, ("hugs", "embraces")),
    InteractionClass("gives", "hand_over", None, ("gives", "hands")),
    InteractionClass("walks with", "walk_together", None, ("walks with", "runs with")),
    InteractionClass("pushes", "push", None, ("pushes", "shoves")),
    InteractionClass("waves at", "wave", None, ("waves at",)),
    InteractionClass("dances with", "dance", None, ("dances with",)),
    # dialog only
    InteractionClass("asks", None, "ask", ("asks", "questions", "inquires about")),
    InteractionClass("orders", None, "order", ("orders", "commands")),
    InteractionClass("thanks", None, "thank", ("thanks",)),
    InteractionClass("apologizes to", None, "apologize", ("apologizes to",)),
    InteractionClass("informs", None, "inform", ("informs", "explains to", "tells")),
    InteractionClass("suggests", None, "suggest", ("suggests", "advises")),
    InteractionClass("threatens", None, "threaten", ("threatens",)),
    InteractionClass("insults", None, "insult", ("insults", "mocks")),
    InteractionClass("reassures", None, "comfort", ("reassures", "encourages")),
    InteractionClass("disagrees with", None, "disagree", ("disagrees with", "argues with")),
    InteractionClass("introduces self to", None, "greet", ("introduces self to",)),
    InteractionClass("confesses to", None, "love", ("confesses to",)),
    # both modalities needed
    InteractionClass("greets", "approach", "greet", ("greets", "says hello to")),
    InteractionClass("consoles", "hug", "comfort", ("consoles", "comforts")),
    InteractionClass("attacks", "hit", "threaten", ("attacks",)),
    InteractionClass("offers", "hand_over", "suggest", ("offers",)),
    InteractionClass("kisses", "hug", "love", ("kisses",)),
)

INTERACTION_BY_NAME: dict[str, InteractionClass] = {c.name: c for c in INTERACTION_CLASSES}
FINE_TO_MERGED: dict[str, str] = {fine: c.name for c in INTERACTION_CLASSES for fine in c.fine}

# Lexical cues of each dialog pattern: sentences the subject says. "{name}" is the addressee.
DIALOG_CUES: dict[str, tuple[str, ...]] = {
    "greet": ("Hello, {name}!", "Hi there, nice to meet you.", "Good morning, {name}.",
              "Hey, how are you doing?", "Hi, I'm glad to finally meet you."),
    "ask": ("Where were you last night?", "What do you want from me?", "Can you tell me why?",
            "{name}, do you know where he went?", "Why did you do that?", "Who told you that?"),
    "order": ("Sit down right now.", "Get out of here, {name}.", "Do it now, that is an order.",
              "Bring me the files immediately.", "Stop talking and listen to me."),
    "thank": ("Thank you so much.", "Thanks, {name}, I owe you one.", "I really appreciate it.",
              "Thank you for everything you did."),
    "apologize": ("I'm sorry, I didn't mean it.", "Please forgive me, {name}.",
                  "I apologize for what I said.", "Sorry, it was my fault."),
    "inform": ("The train leaves at six.", "{name}, the meeting was moved to Monday.",
               "Listen, the police found the car.", "Here is how it works.",
               "Just so you know, the doctor called."),
    "suggest": ("Maybe we should try again tomorrow.", "Why don't you take the money?",
                "How about a cup of coffee?", "You should really call her, {name}.",
                "Would you like some?"),
    "threaten": ("If you tell anyone, you're dead.", "I will hurt you, {name}.",
                 "Don't make me come over there.", "You'll regret this, I promise."),
    "insult": ("You are such an idiot.", "What a pathetic little coward.",
               "Nobody likes you, {name}.", "You're a disgrace."),
    "comfort": ("It's okay, everything will be fine.", "Don't cry, {name}, I'm here.",
                "You did your best, don't worry.", "It's not your fault."),
    "disagree": ("No, that's not true.", "I don't agree with you at all.",
                 "You're wrong, {name}.", "That makes no sense, no way."),
    "love": ("I love you, {name}.", "I've loved you since the day we met.",
             "You mean everything to me.", "I can't stop thinking about you, darling."),
}

# Replies of the object (a speaker turn "- ..."), by dialog pattern; generic ones otherwise.
DIALOG_REPLIES: dict[str, tuple[str, ...]] = {
    "greet": ("Hi.", "Hello.", "Nice to meet you too."),
    "ask": ("I don't know.", "Nowhere.", "Because I had to."),
    "order": ("Yes, sir.", "Right away.", "Fine."),
    "thank": ("You're welcome.", "Anytime.", "Don't mention it."),
    "apologize": ("It's alright.", "Forget it.", "Whatever."),
    "inform": ("Really?", "Okay, got it.", "I see."),
    "suggest": ("Maybe.", "Good idea.", "I'll think about it."),
    "threaten": ("Leave me alone.", "You don't scare me.", "Please, no."),
    "insult": ("Shut up.", "Whatever you say.", "That's not fair."),
    "comfort": ("Thank you.", "I hope so.", "I know."),
    "disagree": ("Yes, it is.", "Think what you like.", "We'll see."),
    "love": ("Me too.", "I know.", "Really?"),
}
GENERIC_REPLIES: tuple[str, ...] = ("Okay.", "Sure.", "Yeah.", "Right.", "Hmm.")
FILLERS: tuple[str, ...] = ("Um, well...", "Okay.", "Yeah, yeah.", "Uh-huh.", "Hmm.", "Oh.", "Well.")
UNRELATED_LINES: tuple[str, ...] = (
    "Did you see the game last night?", "It's going to rain again.", "Pass me the salt.",
    "The bus is late today.", "I need a new phone.", "What time is it?", "This coffee is cold.",
    "My car broke down on the highway.", "Have you been to that new restaurant?",
    "The elevator is out of order.", "I left my keys at home.", "Turn the radio down.",
)
NEUTRAL_LINES: tuple[str, ...] = (
    "Look, {name}.", "Listen to me.", "You know what I mean.", "Come on.", "Well, here we are.",
    "So, anyway.", "Let me say something.",
)

# How a character addresses the other of a labelled pair, by rel(speaker, addressee) (the speaker is
# the addressee's parent, boss, lover, ...): the vocatives of real dialog ("Yes, Mom.", "Sit down,
# kiddo.") that tell a pair's relationship a little in each clip and more over many clips
# (``DemoKnobs.address_rate``). Classes without a typical vocative use the addressee's name.
ADDRESS_TERMS: dict[str, tuple[str, ...]] = {
    "stranger": ("mister", "lady", "stranger"),
    "friend": ("buddy", "pal", "my friend"),
    "colleague": ("partner", "colleague"),
    "lover": ("honey", "sweetheart", "babe", "my love"),
    "enemy": ("you rat", "scum", "creep"),
    "acquaintance": ("neighbor",),
    "boss": ("rookie", "new guy"),
    "worker": ("sir", "boss", "ma'am"),
    "manager": ("madam", "dear customer"),
    "customer": ("young man", "excuse me"),
    "parent": ("sweetie", "kiddo", "my child"),
    "child": ("Mom", "Dad", "Mommy"),
    "sibling": ("sis", "bro", "little brother"),
}

# What a character of a labelled pair says that reveals the relationship, by rel(speaker, addressee)
# (``DemoKnobs.relationship_line_rate``): the topics of a couple, a parent, a boss, a shop, ...
RELATIONSHIP_LINES: dict[str, tuple[str, ...]] = {
    "stranger": ("Excuse me, do I know you?", "Sorry, have we met before?", "I'm new in this town."),
    "friend": ("We've been friends since school.", "That's what friends are for.", "You're my best friend."),
    "colleague": ("The report is due at the office on Friday.", "Did you finish your part of the project?",
                  "See you at the team meeting tomorrow."),
    "lover": ("I booked a table for our anniversary.", "Come home early tonight.",
              "I miss waking up next to you."),
    "enemy": ("This time you won't get away.", "I'll ruin you, just wait.", "You'll pay for what you did to me."),
    "acquaintance": ("We met at the neighbors' barbecue, right?", "How is your dog doing?",
                     "I see you at the bakery every morning."),
    "ex-lover": ("We broke up for a reason.", "I still have your ring.", "Since the divorce nothing is easy."),
    "boss": ("You're fired if it happens again.", "I want the report on my desk by noon.",
             "Your raise is on hold."),
    "worker": ("I finished the inventory.", "Could I have Friday off?", "My shift ends at five."),
    "manager": ("Your order will be ready in ten minutes.", "Can I help you find something?",
                "That will be twenty dollars."),
    "customer": ("I'd like to return this jacket.", "Is this on sale?", "I want to speak to the manager."),
    "knows-by-reputation": ("I've read all about you in the papers.", "Everyone in town knows your name.",
                            "You're the famous one, aren't you?"),
    "parent": ("Did you finish your homework?", "You're grounded, young lady.", "Eat your vegetables."),
    "child": ("Can I go to the party tonight?", "I'm home from school!", "Can I have some pocket money?"),
    "sibling": ("Mom always liked you better.", "Give me back my bike.", "Stay out of my room."),
}

# Names of the cast (drawn anew per movie; no word is shared by two characters of one movie).
TITLES: tuple[str, ...] = ("Dr.", "Mr.", "Mrs.", "Nurse", "Officer", "Aunt", "Captain", "Miss")
FIRST_NAMES: tuple[str, ...] = (
    "Anna", "Ben", "Clara", "David", "Ella", "Frank", "Grace", "Henry", "Iris", "Jack", "Kate",
    "Leo", "Maya", "Nick", "Olga", "Paul", "Rosa", "Sam", "Tina", "Victor", "Wendy", "Yusuf",
    "Zoe", "Omar", "Lena", "Ivan", "Nora", "Hugo", "Rita", "Milo",
)
SURNAMES: tuple[str, ...] = (
    "Bishop", "Carver", "Dalton", "Ellis", "Fisher", "Garner", "Hale", "Irving", "Jensen",
    "Keller", "Lowell", "Marsh", "Novak", "Orton", "Pryce", "Quinlan", "Reyes", "Stone", "Turner",
    "Vance", "Walsh", "Young", "Zeller", "Moreau", "Petrov",
)

SITUATIONS: tuple[str, ...] = ("family dinner", "business meeting", "chase in the city", "party",
                               "argument at home", "first date", "hospital visit", "robbery")
SCENE_LABELS: tuple[str, ...] = ("kitchen", "office", "street", "living room", "bar", "hospital",
                                 "park", "car")
TOPICS: tuple[str, ...] = ("money", "the past", "work", "family", "the plan", "love", "the police")
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "emo": ("happy", "angry", "sad", "worried", "calm"),
    "age": ("young adult", "adult", "old"),
    "pro": ("doctor", "teacher", "student", "cop", "waiter"),
}
SUMMARIES: tuple[str, ...] = ("spend time together", "have a conversation", "deal with a problem")

# Relationship -> interactions it favours (+) or makes unlikely (-): rel(subject, object).
# Shape of the paper's Fig. 2 (obeys ~ worker->manager, enemy ~ attacks/threatens, ...).
AFFINITY: dict[str, dict[str, float]] = {
    "stranger": {"approaches": 1.0, "asks": 1.0, "greets": 1.0, "introduces self to": 1.5,
                 "leaves": 0.5, "hugs": -2, "kisses": -2, "confesses to": -2, "consoles": -1},
    "friend": {"walks with": 1.5, "greets": 1.0, "thanks": 1.0, "suggests": 1.0, "hugs": 1.0,
               "dances with": 0.5, "attacks": -2, "threatens": -1.5},
    "colleague": {"informs": 1.5, "disagrees with": 1.0, "walks with": 0.5, "asks": 0.5,
                  "gives": 0.8, "kisses": -2, "hits": -1},
    "lover": {"kisses": 2.2, "hugs": 1.5, "confesses to": 2.0, "dances with": 1.5, "consoles": 1.0,
              "walks with": 0.5, "attacks": -2},
    "enemy": {"attacks": 2.2, "hits": 2.0, "threatens": 2.0, "chases": 1.8, "insults": 1.5,
              "pushes": 1.0, "hugs": -2, "thanks": -1.5, "kisses": -3},
    "acquaintance": {"greets": 1.5, "waves at": 1.5, "asks": 0.5, "introduces self to": 0.5,
                     "leaves": 0.5},
    "ex-lover": {"leaves": 1.5, "insults": 1.0, "disagrees with": 1.2, "apologizes to": 1.2,
                 "pushes": 0.5},
    "boss": {"orders": 2.2, "informs": 1.0, "insults": 0.5, "gives": 0.5, "hugs": -2},
    "worker": {"apologizes to": 1.5, "asks": 1.0, "thanks": 1.0, "gives": 1.2, "orders": -2},
    "manager": {"informs": 1.2, "offers": 1.5, "gives": 1.5, "suggests": 1.0},
    "customer": {"asks": 1.5, "thanks": 1.2, "disagrees with": 0.8, "waves at": 0.5},
    "knows-by-reputation": {"approaches": 1.2, "asks": 1.0, "introduces self to": 1.5,
                            "waves at": 1.0},
    "parent": {"orders": 1.2, "consoles": 1.8, "reassures": 1.5, "hugs": 1.2, "informs": 0.8,
               "kisses": -1},
    "child": {"asks": 1.2, "hugs": 1.5, "apologizes to": 1.0, "thanks": 0.8, "chases": 0.5},
    "sibling": {"pushes": 1.5, "hugs": 1.5, "insults": 1.0, "chases": 1.0, "disagrees with": 0.8},
}


def validate_vocabulary() -> None:
    """Internal consistency of the tables above (raises AssertionError on a broken edit)."""
    assert set(OPPOSITE_RELATIONSHIP) == set(RELATIONSHIP_CLASSES)
    assert all(OPPOSITE_RELATIONSHIP[OPPOSITE_RELATIONSHIP[r]] == r for r in RELATIONSHIP_CLASSES)
    assert set(FINE_RELATIONSHIPS) == set(RELATIONSHIP_CLASSES) == set(RELATIONSHIP_PRIOR)
    fines = [w for words in FINE_RELATIONSHIPS.values() for w in words]
    assert len(fines) == len(set(fines))
    assert len(FINE_TO_MERGED) == sum(len(c.fine) for c in INTERACTION_CLASSES)
    signatures = [(c.visual, c.dialog) for c in INTERACTION_CLASSES]
    assert len(signatures) == len(set(signatures)), "two merged classes with one signature"
    for cls in INTERACTION_CLASSES:
        assert cls.visual is None or cls.visual in VISUAL_PATTERNS, cls
        assert cls.dialog is None or cls.dialog in DIALOG_CUES, cls
    for rel, row in AFFINITY.items():
        assert rel in RELATIONSHIP_CLASSES and set(row) <= set(INTERACTION_BY_NAME), rel
    assert set(ADDRESS_TERMS) <= set(RELATIONSHIP_CLASSES) and set(RELATIONSHIP_LINES) == set(RELATIONSHIP_CLASSES)


validate_vocabulary()
