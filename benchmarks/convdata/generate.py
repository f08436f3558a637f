"""Deterministic generator of the conversational retrieval set (issue 16, build item 4).

    .venv/bin/python benchmarks/convdata/generate.py            # rewrites the committed files
    .venv/bin/python benchmarks/convdata/generate.py --check    # exit 1 if they differ

Writes ``benchmarks/data/conversations_v1.jsonl`` (one dialogue turn a line: ``id``,
``session``, ``time`` (UTC, ISO 8601), ``speaker``, ``text``) and
``benchmarks/data/conversations_v1_questions.jsonl`` (one question a line: ``id``,
``question``, ``category``, ``evidence`` (turn ids), ``answer`` (for people reading it),
``split``). The output depends only on ``SEED`` and this file.

The world: six friends and colleagues chat in pairs and threes, 44 sessions from January to
August 2024. Each person has storylines whose facts change over the months (a new job, a
move, a pet that falls ill, a hobby dropped for another, trips, injuries, family events,
projects, opinions that turn around, a yearly goal); facts come out in a session's chat,
volunteered or as the answer to the other speaker's question, between small talk that
shares their vocabulary. Shared topics (a restaurant, a film, ...) get an opinion from each
person present. Questions are written from the facts in other words than the turns use;
categories:

* ``single_hop``: one turn answers it;
* ``answer_in_next_turn``: the answer follows the other speaker's question, which shares the
  question's words (the best keyword match is the wrong turn);
* ``temporal``: "when ...", "what did X do after/before ..."; the answer depends on the order
  or the dates of sessions;
* ``multi_hop``: the evidence is two turns of different sessions (both are needed);
* ``speaker_specific``: several people said something about the same thing; only the named
  speaker's turn counts;
* ``distractor``: the same attribute was stated earlier with another value (an old job, the
  old flat, a dropped hobby, an opinion since changed); only the current one counts.

The split is stratified by category: within a category, questions are ordered by a seeded
hash of their id and the first half (rounded up) is ``train``, the rest ``test``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 160_2024
DATA = Path(__file__).resolve().parents[1] / "data"
TURNS_FILE = "conversations_v1.jsonl"
QUESTIONS_FILE = "conversations_v1_questions.jsonl"
N_SESSIONS = 44
START = datetime(2024, 1, 6, tzinfo=UTC)

SPEAKERS = ("Nora", "Felix", "Amani", "Tobias", "Lucia", "Ravi")
GROUPS = (
    ("Nora", "Felix"),
    ("Amani", "Tobias"),
    ("Lucia", "Ravi"),
    ("Nora", "Amani"),
    ("Felix", "Ravi"),
    ("Tobias", "Lucia"),
    ("Nora", "Lucia", "Ravi"),
    ("Felix", "Amani", "Tobias"),
    ("Nora", "Tobias"),
    ("Amani", "Lucia"),
    ("Felix", "Lucia"),
    ("Ravi", "Amani"),
)

# ------------------------------------------------------------------------------- the model


@dataclass
class Beat:
    """A few consecutive turns of one storyline, told in one session.

    Roles: ``P`` the storyline's person, ``O`` another person present. ``{O}`` in a text is
    that other person's name, ``{P}`` the person's.
    """

    person: str
    turns: list[tuple[str, str]]
    session: int = -1
    ids: list[str] = field(default_factory=list)


@dataclass
class Question:
    category: str
    text: str
    evidence: list[tuple[int, int]]  # (beat index in its story, turn index in the beat)
    answer: str  # may hold {d0}, {d1}, ...: the dates of the story's beats


@dataclass
class Story:
    person: str
    kind: str
    beats: list[Beat]
    questions: list[Question]
    handles: dict[str, tuple[int, int]] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)


def pick(rng: random.Random, options: list[str] | tuple[str, ...]) -> str:
    return options[rng.randrange(len(options))]


# ------------------------------------------------------------------------------ vocabularies

JOBS = [
    # title, workplace, how a question describes it, what the work is like
    (
        "paramedic",
        "the county ambulance service",
        "works on an ambulance crew",
        "the twelve-hour night shifts are something else",
    ),
    (
        "pastry chef",
        "Crumb & Kettle",
        "makes croissants and cakes for a living",
        "I'm in at four every morning laminating dough",
    ),
    (
        "primary school teacher",
        "Hollybank Primary",
        "teaches young children",
        "twenty-eight eight-year-olds and one very loud hamster",
    ),
    (
        "data analyst",
        "Meridian Insurance",
        "crunches claims numbers for an insurer",
        "it's spreadsheets of claims from nine to five",
    ),
    (
        "landscape architect",
        "Greenline Studio",
        "designs parks and public gardens",
        "I'm drawing up a riverside park with a wildflower meadow",
    ),
    (
        "sound engineer",
        "Foundry Records",
        "mixes music in a recording studio",
        "we're mixing a folk album with eleven fiddles on it",
    ),
    (
        "pharmacist",
        "Larkspur Pharmacy",
        "dispenses prescriptions at a chemist's",
        "the Saturday rota means I never get a lie-in",
    ),
    (
        "UX designer",
        "Tidewater Games",
        "designs menus and screens for a video game studio",
        "I spent all week redrawing the inventory screen",
    ),
    (
        "physiotherapist",
        "the sports clinic on Mill Road",
        "treats athletes' injuries",
        "half my patients are rugby players with dodgy knees",
    ),
    (
        "translator",
        "Babel & Byrne",
        "translates contracts between languages",
        "I'm buried in Portuguese shipping contracts",
    ),
    (
        "bike mechanic",
        "Spoke & Chain",
        "repairs bicycles in a workshop",
        "I trued about forty wheels this week",
    ),
    (
        "museum curator",
        "the Harbour Maritime Museum",
        "looks after a museum's collection",
        "we're putting together a show about shipwrecks",
    ),
]

AREAS = [
    "Riverside",
    "Old Town",
    "Kingsmoor",
    "the Docklands",
    "Ashcombe",
    "Hillcrest",
    "Fennick Park",
    "Marlow Heights",
    "the Canal Quarter",
    "Brookfield",
    "Stanmere",
    "Larchwood",
]
FLAT_COMPLAINTS = [
    (
        "the landlord still hasn't fixed the boiler, so it's cold showers again",
        "a broken water heater the landlord ignored",
    ),
    (
        "the people upstairs stomp around until two in the morning",
        "noisy upstairs neighbours keeping them up at night",
    ),
    ("there's black mould creeping up the bathroom wall", "damp and mould in the bathroom"),
    ("the rent just went up by two hundred a month", "a big rent increase"),
    ("the windows rattle every time a bus goes past", "draughty windows shaking from the traffic"),
    ("the kitchen is so small I can't open the oven and the fridge at once", "a cramped kitchen"),
]
HOME_FEATURES = [
    ("a balcony that gets the evening sun", "somewhere outside to sit in the evenings"),
    ("a tiny garden with an old apple tree", "a little garden with a fruit tree"),
    ("a spare room I can finally use as an office", "an extra room to work from"),
    ("a proper bath tub, at last", "a bath to soak in"),
    ("a working fireplace in the lounge", "an open fire in the living room"),
    ("a view straight over the park", "a view of green space from the windows"),
]

PETS = [
    # animal, how it came home, name, what went wrong, treatment
    (
        "dog",
        "a three-legged greyhound called",
        "Biscuit",
        "she swallowed half a tennis ball",
        "an emergency operation and a cone for two weeks",
    ),
    (
        "cat",
        "a grey tabby kitten called",
        "Pickle",
        "he stopped eating and turned out to have a bad tooth",
        "two teeth out under anaesthetic",
    ),
    (
        "rabbit",
        "a lop-eared rabbit called",
        "Mochi",
        "she caught a nasty eye infection",
        "eye drops three times a day",
    ),
    (
        "dog",
        "an old beagle called",
        "Pretzel",
        "he hurt his paw on broken glass in the park",
        "stitches and a little boot on that foot",
    ),
    (
        "parrot",
        "an African grey parrot called",
        "Captain",
        "he started plucking his own feathers from stress",
        "a bigger cage and a bird behaviourist",
    ),
    (
        "cat",
        "a black long-haired cat called",
        "Juniper",
        "she was diagnosed with an overactive thyroid",
        "tablets hidden in tuna every evening",
    ),
]

HOBBIES = [
    # phrase when starting, short name, question paraphrase
    ("a pottery class on the wheel", "pottery", "making ceramics"),
    ("bouldering at the climbing wall", "bouldering", "indoor climbing"),
    ("salsa lessons", "salsa", "Latin dancing"),
    ("a community choir", "choir", "singing in a group"),
    ("life drawing at the art centre", "life drawing", "sketching models"),
    ("a beekeeping course", "beekeeping", "keeping bees"),
    ("sea kayaking with a club", "kayaking", "paddling on the sea"),
    ("a chess club at the library", "chess", "playing chess"),
    ("woodturning in a shared workshop", "woodturning", "turning bowls on a lathe"),
    ("an improv comedy course", "improv", "making up comedy scenes on stage"),
    ("open-water swimming in the lake", "lake swimming", "swimming outdoors"),
    ("a sourdough baking workshop", "sourdough", "baking bread"),
]
QUIT_REASONS = [
    "the teacher left and the new one was awful",
    "it clashed with my Thursday shifts",
    "I just never got any better at it",
    "the venue closed for repairs",
    "it was costing a fortune",
    "I kept getting stuck with the worst partner",
]

PLACES = [
    "Lisbon",
    "Kyoto",
    "the Isle of Skye",
    "Marrakech",
    "Reykjavik",
    "the Amalfi coast",
    "Vancouver",
    "Ljubljana",
    "Cape Town",
    "Oaxaca",
    "Tromsø",
    "Seville",
]
TRIP_REASONS = [
    ("my best friend from university moved there last year", "to visit an old university friend"),
    ("it's our tenth wedding anniversary", "to celebrate an anniversary"),
    ("I've wanted to go since I was a kid", "for a childhood dream"),
    ("there's a street food festival that week", "for a food festival"),
    (
        "my cousin is running a marathon there and I promised to cheer",
        "to support a relative's race",
    ),
    ("I need a week of doing absolutely nothing", "to rest and switch off"),
    ("work is sending me to a conference", "for a work conference"),
    ("my parents have never been abroad and it's my treat", "to take their parents away"),
    ("a friend found cheap flights and I couldn't say no", "because of a flight bargain"),
    ("I want to practise the language before my course starts", "to practise a language"),
    ("my sister is getting her PhD there", "for a sister's graduation"),
    ("it was my dad's seventieth birthday wish", "for a parent's big birthday"),
]
TRIP_HIGHLIGHTS = [
    "we hired a tiny boat and found a cove with nobody else on it",
    "the hiking was unreal, we did a ridge walk above the clouds",
    "we took a cooking class with a grandmother who laughed at my knife skills",
    "a whale surfaced right next to the ferry",
    "the night markets, hands down, I ate my body weight in dumplings",
    "we stumbled into a jazz bar and stayed until sunrise",
    "I spent a whole day in one gallery and still didn't see everything",
    "the hot springs after a day of walking in the snow",
    "our host invited us to her family's Sunday lunch",
    "we cycled along the coast road for three days",
    "the sunrise from the old fortress walls",
    "a tiny bakery near the flat that we went to every single morning",
]
TRIP_MISHAPS = [
    "my suitcase flew to Frankfurt without me",
    "I got horribly sunburnt on the first afternoon",
    "our flight home was cancelled and we slept on the airport floor",
    "I left my phone in a taxi",
    "it poured with rain for four days straight",
    "the apartment had no hot water the whole week",
    "I got food poisoning from a prawn",
    "a seagull stole my sandwich and my dignity",
    "we missed the last train and walked two hours back",
    "my card got blocked for suspicious spending",
    "I lost my glasses in the sea",
    "the hire car broke down on a mountain road",
]

INJURIES = [
    # what happened, how, body part, treatment, what they could do again
    (
        "sprained my ankle",
        "stepping off a kerb in the dark",
        "ankle",
        "physio twice a week and a brace",
        "running along the canal",
    ),
    (
        "pulled a muscle in my back",
        "carrying a sofa up three flights of stairs",
        "back",
        "heat packs and a lot of stretching",
        "lifting the kids up",
    ),
    (
        "broke my wrist",
        "coming off my bike on black ice",
        "wrist",
        "six weeks in a cast and then squeezing a stress ball",
        "playing the piano",
    ),
    (
        "tore a ligament in my knee",
        "landing badly in a five-a-side match",
        "knee",
        "strengthening exercises with resistance bands",
        "playing football on Sundays",
    ),
    (
        "cracked a rib",
        "slipping on the wet floor by the pool",
        "rib",
        "painkillers and sleeping propped up on pillows",
        "swimming lengths",
    ),
    (
        "dislocated my shoulder",
        "falling awkwardly on a ski slope",
        "shoulder",
        "a sling and then slow rotations with a physio",
        "climbing",
    ),
]

FAMILY_EVENTS = [
    # kind, relative
    ("wedding", "sister"),
    ("wedding", "cousin"),
    ("wedding", "brother"),
    ("baby", "brother"),
    ("baby", "sister"),
    ("baby", "cousin"),
    ("retirement", "mum"),
    ("retirement", "dad"),
    ("retirement", "uncle"),
    ("birthday", "grandmother"),
    ("birthday", "grandfather"),
    ("birthday", "aunt"),
]
VENUES = [
    "a barn in the Cotswolds",
    "a castle near Edinburgh",
    "a vineyard outside Porto",
    "a hill village in Kerala",
    "a lighthouse on the Cornish coast",
    "the old town hall",
]
PARTY_VENUES = [
    "the function room above the Red Lion",
    "a narrowboat on the canal",
    "the cricket club bar",
    "a marquee in the garden",
    "the back room of an Italian restaurant",
    "the village hall",
]
BABY_NAMES = [
    "Isla",
    "Theo",
    "Ada",
    "Milo",
    "Zara",
    "Otis",
    "Esme",
    "Arlo",
    "Ivy",
    "Ezra",
    "Nell",
    "Rufus",
]
WORKPLACES = ["post office", "fire station", "village school", "steelworks", "hospital", "bank"]

PROJECTS = [
    # started, noun (asked about), paraphrase, progress, finished
    (
        "building a shed at the bottom of the garden",
        "shed",
        "wooden outbuilding",
        "the walls are up but the roof leaked in the first storm",
        "the roof is felted and the lawnmower finally has a home",
    ),
    (
        "writing a mystery novel set on a night ferry",
        "novel",
        "crime book",
        "I'm at chapter eleven and I still don't know who the killer is",
        "I typed the last line at three in the morning and sent it to an agent",
    ),
    (
        "learning Portuguese with an app every morning",
        "Portuguese",
        "language lessons",
        "a 90-day streak, and I can order coffee without panicking",
        "I had a whole conversation with the guy at the Brazilian deli",
    ),
    (
        "restoring an old Vespa I found on a farm",
        "Vespa",
        "scooter restoration",
        "the engine turns over but the electrics are a mystery",
        "it passed its roadworthiness test and I rode it to work",
    ),
    (
        "knitting a blanket for my niece",
        "blanket",
        "knitted gift",
        "forty squares done, sixty to go",
        "I gave it to her and she wrapped the dog in it",
    ),
    (
        "making a podcast about the history of our street",
        "podcast",
        "local history show",
        "I've recorded the old man at number nine for three hours",
        "episode six went out and the council shared it",
    ),
    (
        "growing tomatoes and chillies on an allotment",
        "allotment",
        "vegetable plot",
        "slugs ate every seedling, so I'm starting over",
        "I picked four kilos of tomatoes this weekend and made passata",
    ),
    (
        "building a website for my mum's bakery",
        "website",
        "online shop for a family business",
        "the ordering form works but the photos look terrible",
        "it went live and she got thirty orders the first day",
    ),
    (
        "learning to play the cello",
        "cello",
        "string instrument",
        "I can play a scale without the neighbours banging on the wall",
        "I played at the community concert and didn't drop the bow",
    ),
    (
        "renovating our kitchen ourselves",
        "kitchen",
        "DIY renovation",
        "the old units are out and we're washing up in the bath",
        "the last tile is grouted and we cooked a proper dinner in it",
    ),
    (
        "recording an album of covers with my brother",
        "album",
        "music recording",
        "we've got six songs down, the harmonies need work",
        "it's on streaming sites now and my gran has listened forty times",
    ),
    (
        "training a guide-dog puppy for a charity",
        "puppy training",
        "volunteer animal training",
        "he can sit and wait at kerbs but chews every shoelace",
        "he passed his assessment and went off to his new owner, I cried all day",
    ),
]

OPINIONS = [
    # thing, paraphrase, why not, what changed
    (
        "running",
        "jogging",
        "it's just pain with extra steps and my knees hate it",
        "a couch-to-5k app got me and now I look forward to my Saturday parkrun",
    ),
    (
        "spicy food",
        "hot, chilli-heavy dishes",
        "my mouth burns for an hour and I can't taste anything",
        "a friend's Sichuan dinner converted me, I put chilli oil on everything now",
    ),
    (
        "jazz",
        "that style of improvised music",
        "it sounds like five people playing different songs",
        "I heard a live trio in a basement bar and got it, finally",
    ),
    (
        "camping",
        "sleeping in a tent",
        "cold, wet and a sleeping bag full of earwigs",
        "a weekend on a farm site with a good mattress changed everything",
    ),
    (
        "cold-water swimming",
        "swimming in freezing water",
        "why would anyone choose to be that cold",
        "I tried it on a dare and the rush afterwards is addictive",
    ),
    (
        "podcasts",
        "talk shows you listen to",
        "people chatting for three hours about nothing",
        "a true-crime series got me hooked on my commute",
    ),
    (
        "board games",
        "tabletop games",
        "they end in arguments about the rules",
        "a cooperative game where we all win or lose together won me over",
    ),
    (
        "working from home",
        "remote work",
        "I get lonely and end up eating crisps at my desk",
        "with a proper desk and a lunchtime walk I'm more productive than ever",
    ),
    (
        "opera",
        "classical singing on stage",
        "three hours of people shouting in Italian",
        "a friend took me to a modern staging and I was in tears by the end",
    ),
    (
        "yoga",
        "stretching classes",
        "I'm about as flexible as a plank",
        "my back pain went away after a month of classes, so I'm a convert",
    ),
    (
        "e-books",
        "reading on a screen",
        "nothing beats the smell of paper",
        "a reader with a backlight means I read in bed without waking anyone",
    ),
    (
        "karaoke",
        "singing in a bar",
        "I'd rather eat a lightbulb",
        "someone dragged me up at a leaving do and I did Bohemian Rhapsody, twice",
    ),
]

GOALS = [
    # goal, short, outcome
    ("run a 10k race before the summer", "run that 10k", "Yes, 58 minutes, and I didn't walk once"),
    (
        "read twenty-four books this year",
        "hit your reading target",
        "I'm on book nineteen, so it's going to be close",
    ),
    (
        "pass my driving test",
        "pass the test",
        "Third attempt, but I passed! Reversing round the corner nearly killed me",
    ),
    (
        "learn to swim front crawl properly",
        "sort out your front crawl",
        "I can do twenty lengths now without swallowing half the pool",
    ),
    (
        "give up coffee completely",
        "quit coffee",
        "I lasted eleven days and then a double espresso happened",
    ),
    (
        "save enough for a new road bike",
        "save up for the bike",
        "I bought it last week, it's bright orange and weighs nothing",
    ),
    (
        "go a month without buying takeaway",
        "do the month without takeaways",
        "I made it to day twenty-six and then pizza won",
    ),
    (
        "volunteer at the food bank every fortnight",
        "keep up the volunteering",
        "I've not missed a single Saturday, they've made me a shift lead",
    ),
    (
        "climb Ben Nevis",
        "get up Ben Nevis",
        "We made it to the top in a hailstorm and saw absolutely nothing",
    ),
    (
        "paint the whole flat myself",
        "finish the painting",
        "Every room is done except the hallway, which is half sage and half magnolia",
    ),
    (
        "get up at six every weekday",
        "keep up the early mornings",
        "Lasted a week. My alarm and I are no longer on speaking terms",
    ),
    (
        "learn to make fresh pasta",
        "make pasta from scratch",
        "I made ravioli for eight people and only one fell apart",
    ),
]

# ------------------------------------------------------------------------------- storylines


def story_job(rng: random.Random, p: str, old: tuple[str, ...], new: tuple[str, ...]) -> Story:
    t0, w0, _, d0 = old
    t1, w1, desc1, d1 = new
    years = pick(rng, ("three", "five", "six", "eight"))
    beats = [
        Beat(
            p,
            [
                (
                    "P",
                    pick(
                        rng,
                        (
                            f"Work is the same as ever. I've been a {t0} at {w0} for {years} years "
                            f"and {d0}.",
                            f"Long week at {w0}. Being a {t0} means {d0}, and this week was worse "
                            "than usual.",
                        ),
                    ),
                ),
                (
                    "O",
                    pick(
                        rng,
                        (
                            "That sounds exhausting.",
                            "You do too much, {P}.",
                            "Do you still enjoy it, though?",
                        ),
                    ),
                ),
            ],
        ),
        Beat(
            p,
            [
                (
                    "O",
                    pick(
                        rng,
                        (
                            "{P}, did you hear back about that job interview?",
                            "So, any news on the job interview, {P}?",
                        ),
                    ),
                ),
                (
                    "P",
                    pick(
                        rng,
                        (
                            f"I did! They offered it to me, I'm going to be a {t1} at {w1}. "
                            "Handing in my notice on Monday.",
                            f"Yes!! {w1[0].upper() + w1[1:]} want me as their new {t1}. "
                            "I said yes before they could change their minds.",
                        ),
                    ),
                ),
                ("O", "Congratulations, that's huge!"),
            ],
        ),
        Beat(
            p,
            [
                (
                    "P",
                    pick(
                        rng,
                        (
                            f"Second week at {w1} done. {d1[0].upper() + d1[1:]}, but I don't miss "
                            "the old place at all.",
                            f"The new gig at {w1} is great so far; {d1}.",
                        ),
                    ),
                ),
                ("O", pick(rng, ("Glad it's working out.", "Sounds like a good move."))),
            ],
        ),
    ]
    qs = [
        Question(
            "temporal",
            f"What was {p}'s line of work before the career change?",
            [(0, 0)],
            f"{t0} at {w0}",
        ),
        Question(
            "answer_in_next_turn",
            f"Did {p} get anything out of the interview?",
            [(1, 1)],
            f"yes, an offer as {t1} at {w1}",
        ),
        Question("distractor", f"Who is {p}'s current employer?", [(1, 1), (2, 0)], w1),
        Question(
            "temporal", f"When did {p} accept the new position?", [(1, 1)], "the week of {d1}"
        ),
        Question("single_hop", f"What is {p}'s new role like day to day?", [(2, 0)], d1),
    ]
    return Story(p, "job", beats, qs, {"job": (1, 1)}, {"desc": desc1, "title": f"{t1} at {w1}"})


def story_move(
    rng: random.Random, p: str, a0: str, a1: str, comp: tuple[str, str], feat: tuple[str, str]
) -> Story:
    beats = [
        Beat(
            p,
            [
                ("P", f"Our flat in {a0} is driving me mad, {comp[0]}."),
                (
                    "O",
                    pick(rng, ("Have you thought about moving?", "That's grim. Can you complain?")),
                ),
            ],
        ),
        Beat(
            p,
            [
                (
                    "O",
                    pick(
                        rng,
                        (
                            "How's the house hunting going, {P}?",
                            "Any luck finding a new place to live?",
                        ),
                    ),
                ),
                ("P", f"We signed a lease yesterday! It's in {a1} and it has {feat[0]}."),
                ("O", "Amazing, housewarming when?"),
            ],
        ),
        Beat(
            p,
            [
                (
                    "P",
                    f"Still living out of boxes since we moved to {a1}. "
                    + pick(
                        rng,
                        (
                            "I found the kettle after four days.",
                            "The cat hides in a different box every night.",
                            "I've eaten off paper plates all week.",
                        ),
                    ),
                ),
                ("O", "It takes months to feel settled."),
            ],
        ),
    ]
    qs = [
        Question("distractor", f"Which part of town does {p} live in now?", [(1, 1), (2, 0)], a1),
        Question("temporal", f"Where did {p} live before moving house?", [(0, 0)], a0),
        Question(
            "single_hop", f"What was the problem with {p}'s old apartment?", [(0, 0)], comp[1]
        ),
        Question(
            "answer_in_next_turn", f"Does {p}'s new home have anything special?", [(1, 1)], feat[1]
        ),
        Question(
            "temporal",
            f"When did {p} sign the rental contract for the new place?",
            [(1, 1)],
            "the day before {d1}",
        ),
        Question(
            "multi_hop",
            f"What was wrong with {p}'s previous flat, and what does the new one offer?",
            [(0, 0), (1, 1)],
            f"{comp[1]}; {feat[1]}",
        ),
    ]
    return Story(p, "move", beats, qs, {"home": (1, 1)}, {"area": a1})


def story_pet(rng: random.Random, p: str, pet: tuple[str, ...]) -> Story:
    animal, how, name, ill, treat = pet
    what = how.rsplit(" ", 1)[0]  # "a grey tabby kitten called" without "called"
    beats = [
        Beat(
            p,
            [
                (
                    "P",
                    pick(
                        rng,
                        (
                            f"We went to the rescue centre on Saturday and came home with {what}.",
                            f"Meet the newest member of the household: {what} from the shelter.",
                        ),
                    ),
                ),
                ("O", "Oh my goodness, photos please!"),
            ],
        ),
        Beat(
            p,
            [
                (
                    "O",
                    pick(
                        rng,
                        (
                            f"Did you settle on a name for the new {animal}, {{P}}?",
                            f"What are you calling the {animal} in the end?",
                        ),
                    ),
                ),
                ("P", f"{name}! My nephew suggested it and it just fits."),
                ("O", "Perfect."),
            ],
        ),
        Beat(
            p,
            [
                ("O", f"How's {name} settling in?"),
                ("P", f"Rough week, {ill}, so it's {treat} for a while."),
                ("O", "Poor thing, I hope the vet bill isn't too bad."),
            ],
        ),
    ]
    qs = [
        Question("single_hop", f"What animal did {p} adopt?", [(0, 0)], how.rsplit(" ", 1)[0]),
        Question(
            "answer_in_next_turn", f"What name did {p} give the new {animal}?", [(1, 1)], name
        ),
        Question(
            "answer_in_next_turn", f"Why did {p}'s pet need treatment?", [(2, 1)], f"{ill}; {treat}"
        ),
        Question(
            "temporal",
            f"When did {p} bring the {animal} home?",
            [(0, 0)],
            "the Saturday before {d0}",
        ),
    ]
    return Story(p, "pet", beats, qs, {"pet": (1, 1)}, {"animal": animal, "name": name})


def story_hobby(
    rng: random.Random, p: str, h0: tuple[str, ...], h1: tuple[str, ...], reason: str
) -> Story:
    day = pick(rng, ("Tuesday", "Wednesday", "Thursday"))
    beats = [
        Beat(
            p,
            [
                ("P", f"I finally signed up for {h0[0]} on {day} evenings."),
                ("O", "Good for you, you've talked about that for ages."),
            ],
        ),
        Beat(
            p,
            [
                ("O", f"Are you still going to {h0[1]}, {{P}}?"),
                ("P", f"Nope, I gave it up, {reason}. I've switched to {h1[0]} and I'm hooked."),
                ("O", "Ha, you change hobbies like socks."),
            ],
        ),
    ]
    qs = [
        Question("single_hop", f"What evening activity did {p} sign up for?", [(0, 0)], h0[1]),
        Question("temporal", f"What did {p} take up after quitting {h0[2]}?", [(1, 1)], h1[1]),
        Question("distractor", f"What's {p}'s pastime these days?", [(1, 1)], h1[1]),
        Question("answer_in_next_turn", f"Why did {p} stop {h0[2]}?", [(1, 1)], reason),
    ]
    return Story(p, "hobby", beats, qs, {"hobby": (1, 1)}, {"hobby": h1[2]})


def story_trip(
    rng: random.Random, p: str, place: str, reason: tuple[str, str], high: str, mishap: str
) -> Story:
    month = pick(rng, ("next month", "a few weeks' time", "the end of the month"))
    beats = [
        Beat(
            p,
            [
                ("P", f"We've booked {place} for {month}, {reason[0]}."),
                ("O", pick(rng, ("Jealous!", "Oh, you'll love it."))),
            ],
        ),
        Beat(
            p,
            [
                ("O", f"You're back! How was {place}?"),
                ("P", f"Brilliant, {high}. The only downside: {mishap}."),
                (
                    "O",
                    pick(rng, ("Ha, there's always something.", "Sounds like a proper adventure.")),
                ),
            ],
        ),
    ]
    qs = [
        Question("single_hop", f"Where did {p} travel {reason[1]}?", [(0, 0)], place),
        Question("answer_in_next_turn", f"What did {p} enjoy most in {place}?", [(1, 1)], high),
        Question("temporal", f"When did {p} return from {place}?", [(1, 1)], "shortly before {d1}"),
        Question(
            "multi_hop",
            f"Why did {p} choose {place}, and what went wrong while there?",
            [(0, 0), (1, 1)],
            f"{reason[0]}; {mishap}",
        ),
    ]
    return Story(p, "trip", beats, qs, {"trip": (1, 1)}, {"place": place})


def story_health(rng: random.Random, p: str, inj: tuple[str, ...]) -> Story:
    what, how, part, treat, again = inj
    progress = pick(
        rng,
        (
            "it's healing faster than expected",
            "I should be fine in a month",
            "I have to be patient, apparently",
        ),
    )
    beats = [
        Beat(
            p,
            [
                ("P", f"I {what}, {how}. So that's me out of action for a bit."),
                ("O", "Ouch! Take it easy."),
            ],
        ),
        Beat(
            p,
            [
                ("O", f"How's the {part}, {{P}}?"),
                ("P", f"{treat[0].upper() + treat[1:]}; the physio says {progress}."),
                ("O", "Fingers crossed."),
            ],
        ),
        Beat(
            p,
            [
                ("P", f"Guess who's back to {again}? No pain at all this week."),
                ("O", "Finally! Well done."),
            ],
        ),
    ]
    qs = [
        Question("single_hop", f"How did {p} get hurt?", [(0, 0)], how),
        Question("temporal", f"When did {p} injure the {part}?", [(0, 0)], "just before {d0}"),
        Question(
            "answer_in_next_turn", f"What is {p} doing to recover from the injury?", [(1, 1)], treat
        ),
        Question("temporal", f"What could {p} do again once the {part} healed?", [(2, 0)], again),
        Question(
            "multi_hop",
            f"What caused {p}'s injury, and how is it being treated?",
            [(0, 0), (1, 1)],
            f"{how}; {treat}",
        ),
    ]
    return Story(p, "health", beats, qs, {"injury": (0, 0)}, {"part": part})


def story_family(rng: random.Random, p: str, ev: tuple[str, str], extra: str) -> Story:
    kind, rel = ev
    if kind == "wedding":
        b0 = f"My {rel} is getting married at {extra} this summer, and I'm giving a speech."
        ask = f"How was your {rel}'s wedding?"
        rep = pick(
            rng,
            (
                "Beautiful, the band played until 2am and I only cried twice in my speech.",
                "Chaotic, the cake collapsed, but everyone danced until they threw us out.",
            ),
        )
        q0 = f"Which relative of {p} was tying the knot?"
        q1 = f"How did the marriage celebration of {p}'s {rel} go?"
        q2 = f"When did {p}'s {rel} get married?"
    elif kind == "baby":
        b0 = (
            f"Big news in the family: my {rel} just had a baby girl, {extra}, seven pounds exactly."
        )
        ask = "Have you met the new baby yet?"
        rep = pick(
            rng,
            (
                "Yes, on Sunday, she has the loudest cry I've ever heard.",
                "Yes! She fell asleep on me for two hours and I didn't dare move.",
            ),
        )
        q0 = f"What is the name of {p}'s {rel}'s newborn?"
        q1 = f"What was it like when {p} first held the new baby?"
        q2 = f"When was {p}'s {rel}'s daughter born?"
    elif kind == "retirement":
        b0 = f"My {rel} retires at the end of the month after forty years at the {extra}."
        ask = f"Did your {rel}'s retirement party happen?"
        rep = pick(
            rng,
            (
                "It did, the whole street came and they gave a speech about the time the "
                "roof blew off.",
                "It did, there was a slideshow and a cake shaped like a clock.",
            ),
        )
        q0 = f"Where did {p}'s {rel} work for four decades?"
        q1 = f"What happened at the leaving do for {p}'s {rel}?"
        q2 = f"When did {p}'s {rel} stop working?"
    else:
        b0 = f"My {rel} turns ninety next week, we've hired {extra} for a party."
        ask = "How was the big ninetieth?"
        they = "he" if rel == "grandfather" else "she"
        rep = pick(
            rng,
            (
                f"Lovely, {they} danced with every grandchild and then fell asleep in the chair.",
                f"Wonderful, {they} told the same story about the war four times and we loved "
                "every one.",
            ),
        )
        q0 = f"Where was the party for {p}'s {rel}'s milestone birthday?"
        q1 = f"How did {p}'s {rel}'s birthday celebration go?"
        q2 = f"When was {p}'s {rel}'s ninetieth?"
    beats = [
        Beat(p, [("P", b0), ("O", pick(rng, ("How lovely!", "Oh, that's wonderful news.")))]),
        Beat(p, [("O", ask), ("P", rep), ("O", "That sounds perfect.")]),
    ]
    qs = [
        Question("single_hop", q0, [(0, 0)], extra if kind != "wedding" else rel),
        Question("answer_in_next_turn", q1, [(1, 1)], rep),
        Question(
            "temporal",
            q2,
            [(0, 0)] if kind in ("baby",) else [(1, 1)],
            "just before {d0}" if kind == "baby" else "shortly before {d1}",
        ),
    ]
    return Story(p, "family", beats, qs, {"family": (0, 0)}, {"rel": rel, "kind": kind})


def story_project(rng: random.Random, p: str, proj: tuple[str, ...]) -> Story:
    start, noun, para, progress, done = proj
    beats = [
        Beat(
            p,
            [
                ("P", f"New project: I'm {start}."),
                ("O", pick(rng, ("Of course you are.", "Where do you find the time?"))),
            ],
        ),
        Beat(
            p,
            [
                ("O", f"How's the {noun} coming along, {{P}}?"),
                ("P", f"Slowly, {progress}."),
                ("O", "Keep going."),
            ],
        ),
        Beat(
            p,
            [
                ("P", f"It's finished! {done[0].upper() + done[1:]}."),
                ("O", "That's brilliant, I'm proud of you."),
            ],
        ),
    ]
    qs = [
        Question("single_hop", f"What {para} project did {p} begin?", [(0, 0)], start),
        Question(
            "answer_in_next_turn",
            f"What setback or progress did {p} report on the {para}?",
            [(1, 1)],
            progress,
        ),
        Question(
            "multi_hop",
            f"How did {p}'s {para} start and how did it end up?",
            [(0, 0), (2, 0)],
            f"{start}; {done}",
        ),
        Question("temporal", f"When did {p} complete the {para}?", [(2, 0)], "just before {d2}"),
    ]
    return Story(p, "project", beats, qs, {"project": (2, 0)}, {"para": para})


def story_opinion(rng: random.Random, p: str, op: tuple[str, ...]) -> Story:
    thing, para, why, change = op
    beats = [
        Beat(
            p,
            [
                ("P", f"Honestly, I can't stand {thing}, {why}."),
                ("O", pick(rng, ("Fair enough.", "You just haven't tried it properly."))),
            ],
        ),
        Beat(
            p,
            [
                ("P", f"Right, I owe everyone an apology about {thing}: {change}."),
                ("O", "I told you so!"),
            ],
        ),
    ]
    qs = [
        Question("temporal", f"What did {p} originally have against {para}?", [(0, 0)], why),
        Question(
            "distractor", f"How does {p} feel about {para} nowadays?", [(1, 0)], "likes it now"
        ),
        Question("single_hop", f"What changed {p}'s mind about {para}?", [(1, 0)], change),
    ]
    return Story(p, "opinion", beats, qs)


def story_goal(rng: random.Random, p: str, goal: tuple[str, str, str]) -> Story:
    g, short, outcome = goal
    beats = [
        Beat(
            p,
            [
                ("P", f"My resolution for this year: {g}."),
                ("O", "Write it on the fridge so you can't forget."),
            ],
        ),
        Beat(
            p,
            [
                ("O", f"Did you ever {short}, {{P}}?"),
                ("P", outcome),
                ("O", pick(rng, ("Ha, that counts.", "Respect."))),
            ],
        ),
    ]
    qs = [
        Question("single_hop", f"What new year's goal did {p} set?", [(0, 0)], g),
        Question(
            "answer_in_next_turn", f"Did {p} manage the new year's resolution?", [(1, 1)], outcome
        ),
    ]
    return Story(p, "goal", beats, qs)


def make_stories(rng: random.Random) -> list[Story]:
    """Every person's storylines, with values unique across people."""
    n = len(SPEAKERS)
    jobs = rng.sample(JOBS, 2 * n)
    areas = rng.sample(AREAS, 2 * n)
    comps = rng.sample(FLAT_COMPLAINTS, n)
    feats = rng.sample(HOME_FEATURES, n)
    pets = rng.sample(PETS, n)
    hobbies = rng.sample(HOBBIES, 2 * n)
    reasons = rng.sample(QUIT_REASONS, n)
    places = rng.sample(PLACES, 2 * n)
    trip_reasons = rng.sample(TRIP_REASONS, 2 * n)
    highs = rng.sample(TRIP_HIGHLIGHTS, 2 * n)
    mishaps = rng.sample(TRIP_MISHAPS, 2 * n)
    injuries = rng.sample(INJURIES, n)
    events = rng.sample(FAMILY_EVENTS, 2 * n)
    venues, babies, works = list(VENUES), list(BABY_NAMES), list(WORKPLACES)
    parties = list(PARTY_VENUES)
    for pool in (venues, babies, works, parties):
        rng.shuffle(pool)
    projects = rng.sample(PROJECTS, 2 * n)
    opinions = rng.sample(OPINIONS, 2 * n)
    goals = rng.sample(GOALS, n)
    stories: list[Story] = []
    for i, p in enumerate(SPEAKERS):
        stories.append(story_job(rng, p, jobs[2 * i], jobs[2 * i + 1]))
        stories.append(story_move(rng, p, areas[2 * i], areas[2 * i + 1], comps[i], feats[i]))
        stories.append(story_pet(rng, p, pets[i]))
        stories.append(story_hobby(rng, p, hobbies[2 * i], hobbies[2 * i + 1], reasons[i]))
        for j in (2 * i, 2 * i + 1):
            stories.append(story_trip(rng, p, places[j], trip_reasons[j], highs[j], mishaps[j]))
        stories.append(story_health(rng, p, injuries[i]))
        for j in (2 * i, 2 * i + 1):
            kind = events[j][0]
            extra = {"wedding": venues, "baby": babies, "retirement": works}.get(kind, parties)
            stories.append(story_family(rng, p, events[j], extra.pop()))
        for j in (2 * i, 2 * i + 1):
            stories.append(story_project(rng, p, projects[j]))
            stories.append(story_opinion(rng, p, opinions[j]))
        stories.append(story_goal(rng, p, goals[i]))
    return stories


def cross_questions(
    rng: random.Random, stories: list[Story]
) -> list[tuple[Question, list[tuple[Story, int, int]]]]:
    """Multi-hop questions that describe a person by one fact and ask another."""
    by: dict[tuple[str, str], Story] = {}
    for s in stories:
        by.setdefault((s.person, s.kind), s)
    out = []
    for p in SPEAKERS:
        job, pet, move, hobby = (by[(p, k)] for k in ("job", "pet", "move", "hobby"))
        health = by[(p, "health")]
        desc = job.facts["desc"]
        pairs = [
            (
                f"What is the name of the pet owned by the person who now {desc}?",
                [(job, *job.handles["job"]), (pet, *pet.handles["pet"])],
                pet.facts["name"],
            ),
            (
                f"Which neighbourhood did the friend who took up {hobby.facts['hobby']} move to?",
                [(hobby, *hobby.handles["hobby"]), (move, *move.handles["home"])],
                move.facts["area"],
            ),
            (
                f"What new job did the person who hurt their {health.facts['part']} get?",
                [(health, *health.handles["injury"]), (job, *job.handles["job"])],
                job.facts["title"],
            ),
        ]
        for text, ev, ans in pairs:
            if len({st.beats[bi].session for st, bi, _ in ev}) == 2:  # across sessions only
                out.append((Question("multi_hop", text, [], ans), ev))
    return out


# ---------------------------------------------------------------------------- shared topics

TOPICS = [
    # kind, name, how a question names it, the opener
    (
        "restaurant",
        "Casa Olivo",
        "the Spanish place Casa Olivo",
        "Has anyone tried Casa Olivo yet?",
    ),
    (
        "restaurant",
        "the Golden Wok",
        "the Golden Wok takeaway",
        "We ordered from the Golden Wok last night.",
    ),
    (
        "film",
        "Glass Harbour",
        "the film Glass Harbour",
        "Did you all see Glass Harbour at the weekend?",
    ),
    (
        "film",
        "The Last Lighthouse",
        "The Last Lighthouse movie",
        "So, The Last Lighthouse, verdict?",
    ),
    (
        "book",
        "The Salt Orchard",
        "the novel The Salt Orchard",
        "Book club pick was The Salt Orchard, did you finish it?",
    ),
    ("book", "Twelve Winters", "Twelve Winters, the memoir", "Who's read Twelve Winters?"),
    (
        "series",
        "Night Shift Hospital",
        "the show Night Shift Hospital",
        "Are you watching Night Shift Hospital?",
    ),
    ("series", "The Cartographers", "The Cartographers on TV", "The Cartographers finale, anyone?"),
    (
        "gig",
        "the Weatherfolk concert",
        "the Weatherfolk gig",
        "How good was the Weatherfolk concert?",
    ),
    (
        "gig",
        "the orchestra's summer prom",
        "the summer classical concert",
        "Did you go to the orchestra's summer prom?",
    ),
    (
        "place",
        "the new climbing centre",
        "the climbing centre that opened",
        "Has anyone been to the new climbing centre?",
    ),
    (
        "place",
        "the Saturday farmers' market",
        "the weekend market",
        "Anyone go to the Saturday farmers' market?",
    ),
    ("event", "the office summer party", "the work summer do", "So, the office summer party..."),
    (
        "event",
        "the street party on Elm Road",
        "the Elm Road street party",
        "Did you go to the street party on Elm Road?",
    ),
    ("cafe", "Bean There", "the Bean There coffee shop", "Bean There has reopened, have you been?"),
    (
        "cafe",
        "the rooftop bar at the Grand",
        "the Grand's rooftop bar",
        "Drinks at the rooftop bar at the Grand, what did we think?",
    ),
    ("podcast", "Deep Time", "the Deep Time podcast", "Anyone listening to Deep Time?"),
    (
        "exhibition",
        "the Hokusai exhibition",
        "the Japanese prints show",
        "Did you make it to the Hokusai exhibition?",
    ),
    ("app", "the new bus app", "the bus company's app", "Has anyone got the new bus app to work?"),
    ("festival", "the Lantern Festival", "the lantern parade", "Were you at the Lantern Festival?"),
]
OPINION_LINES = {
    "restaurant": [
        "The paella was the best I've had outside Spain, but the service was glacial.",
        "Honestly overrated. Tiny portions and the bill made me wince.",
        "Loved the garlic prawns, the dessert was forgettable.",
        "Too loud to hear each other, the food was fine though.",
        "I'd go back just for the bread, it's ridiculous.",
        "We waited an hour for a table and it was worth every minute.",
    ],
    "film": [
        "Gorgeous to look at, but the ending made no sense to me.",
        "I cried, I'm not ashamed. Best thing I've seen this year.",
        "Twenty minutes too long, I checked my phone twice.",
        "The soundtrack carried it, the plot was thin.",
        "I fell asleep, sorry, it was very slow.",
        "The twist in the middle genuinely shocked me.",
    ],
    "book": [
        "Couldn't put it down, I read it in two nights.",
        "I gave up at page ninety, nothing happens.",
        "The first half is great and then it just unravels.",
        "The writing is beautiful but I hated every character.",
        "I listened to the audiobook, the narrator was perfect.",
        "It made me want to ring my grandparents.",
    ],
    "series": [
        "Hooked, I watched four episodes back to back.",
        "It's so unrealistic, no hospital works like that.",
        "Season one was better, this one drags.",
        "The finale was a cop-out after all that build-up.",
        "I only watch it for the lead actor, to be honest.",
        "My whole family argues about it every Sunday.",
    ],
    "gig": [
        "The sound was muddy from where we stood.",
        "Goosebumps during the encore, what a night.",
        "Too crowded, I couldn't see a thing.",
        "They played all the old songs, I was very happy.",
        "Way too quiet, I expected more energy.",
        "I lost my voice singing along.",
    ],
    "place": [
        "Brilliant, but you have to book weeks ahead.",
        "Too expensive for what it is.",
        "I went twice already, the staff are lovely.",
        "Nice idea, terrible parking.",
        "It was rammed, I gave up and went home.",
        "Good for a rainy Saturday with the kids.",
    ],
    "event": [
        "Great fun, the karaoke got out of hand.",
        "I left early, it was too hot in there.",
        "The food ran out in half an hour.",
        "Best one in years, the band was excellent.",
        "Honestly awkward, nobody danced.",
        "I won the raffle, so no complaints from me.",
    ],
    "cafe": [
        "Best flat white in town, the pastries are stale though.",
        "Too hipster for me, fourteen kinds of milk.",
        "Perfect spot to work from, good wifi.",
        "The view is great, the prices are not.",
        "Friendly staff but the coffee tasted burnt.",
        "They remembered my order on the second visit, I was charmed.",
    ],
    "podcast": [
        "Fascinating, the episode on volcanoes blew my mind.",
        "The hosts talk over each other constantly.",
        "Great for long drives.",
        "It's good but the adverts are endless.",
        "Too slow for me, I listen at double speed.",
        "I've recommended it to everyone at work.",
    ],
    "exhibition": [
        "The big wave print in real life is tiny, which surprised me.",
        "Stunning, I bought the catalogue.",
        "Too crowded to enjoy, everyone taking selfies.",
        "I loved the room about the printing process.",
        "Short, but worth it for the mountain series.",
        "The gift shop was better than the show.",
    ],
    "app": [
        "It crashes every time I try to buy a ticket.",
        "Works fine for me, the live map is handy.",
        "It asked for my location forty times.",
        "Much better than the old one, honestly.",
        "I went back to paying cash.",
        "The journey planner sent me to the wrong side of town.",
    ],
    "festival": [
        "Magical, the river was full of floating lights.",
        "Freezing cold and the hot chocolate ran out.",
        "The kids loved the dragon puppet.",
        "Too many people, we watched from a bridge.",
        "I volunteered as a steward, so I saw it all backstage.",
        "The fireworks at the end were the best bit.",
    ],
}


# ------------------------------------------------------------------------------- small talk

FOODS = [
    "lasagne",
    "a Thai green curry",
    "leftover chilli",
    "fish pie",
    "a mushroom risotto",
    "tacos",
    "shakshuka",
    "a big pot of lentil soup",
    "cheese on toast",
    "a stir-fry",
    "pancakes",
    "a roast chicken",
]
SHOWS = [
    "a documentary about octopuses",
    "an old detective series",
    "the snooker",
    "a baking competition",
    "a cooking show",
    "some terrible reality TV",
    "a quiz show",
    "the football highlights",
    "a nature programme about deserts",
]
WEATHERS = [
    "pouring with rain",
    "freezing",
    "weirdly warm",
    "so windy the bins blew over",
    "foggy all day",
    "sunny for once",
    "sleeting",
    "muggy and grey",
]
CHORES = [
    "sorting out my tax return",
    "clearing the gutters",
    "defrosting the freezer",
    "ironing a mountain of shirts",
    "fixing the dripping tap",
    "cleaning the oven",
    "returning parcels",
    "re-grouting the shower",
]
WORK_GRIPES = [
    "the printer jammed again",
    "another meeting that could have been an email",
    "the wifi went down for the whole afternoon",
    "my inbox is at four hundred",
    "someone microwaved fish in the office",
    "the lift has been broken for a week",
    "we had a fire drill in the rain",
    "my laptop decided to update mid-call",
]
NEIGHBOURS = [
    "the neighbour's dog barked all night",
    "next door are having an extension built",
    "someone left a sofa on the pavement",
    "the couple opposite had a massive row",
    "a fox got into the bins again",
    "the street party is being planned already",
]
THIRD_PARTIES = [
    "a colleague",
    "my flatmate",
    "my boss",
    "the guy at the corner shop",
    "a friend of my sister's",
    "my old teacher",
    "someone from the gym",
]
THIRD_NEWS = [
    "is getting married in Greece",
    "just adopted a puppy",
    "moved to Bristol",
    "broke a leg skiing",
    "started a new job at a bank",
    "is off travelling in Peru",
    "took up rock climbing",
    "is writing a cookbook",
    "had twins",
    "quit to open a café",
]
SPORTS = [
    "United lost again",
    "the cricket got rained off",
    "that tennis final was mad",
    "the rugby was brutal",
    "the cycling on TV was gripping",
    "the darts went to a decider",
]
SLEEP = [
    "I slept eleven hours",
    "I've been awake since five",
    "I had the weirdest dream",
    "the heating clanked all night",
    "I fell asleep on the sofa again",
]
SHOPPING = [
    "new trainers",
    "a lamp for the hallway",
    "a second-hand bike helmet",
    "a ridiculous amount of cheese",
    "a present for my mum",
    "a raincoat",
]


SMALL_TALK_KINDS = 24


def small_talk(rng: random.Random, k: int) -> list[tuple[str, str]]:
    """Exchange number ``k`` of chat with no fact about the speakers (roles A, B, C)."""
    if k == 0:
        return [
            ("A", f"It's been {pick(rng, WEATHERS)} here all week."),
            (
                "B",
                pick(rng, ("Same here, I'm sick of it.", "Typical.", "At least it's not snowing.")),
            ),
            (
                "A",
                pick(
                    rng,
                    ("Roll on summer.", "I've given up on my umbrella.", "Tea weather, I suppose."),
                ),
            ),
        ]
    if k == 1:
        return [
            ("A", "What are you having for dinner tonight, {B}?"),
            ("B", f"Probably {pick(rng, FOODS)}, nothing fancy."),
            ("A", f"Ooh. I'm making {pick(rng, FOODS)}."),
        ]
    if k == 2:
        return [
            ("A", f"I watched {pick(rng, SHOWS)} last night."),
            ("B", pick(rng, ("Any good?", "Was it worth it?", "I keep meaning to watch that."))),
            (
                "A",
                pick(
                    rng,
                    (
                        "Better than expected.",
                        "It was fine, I had it on in the background.",
                        "I fell asleep halfway, so who knows.",
                    ),
                ),
            ),
        ]
    if k == 3:
        return [
            ("A", f"Spent the whole of Sunday {pick(rng, CHORES)}."),
            ("B", pick(rng, ("Living the dream.", "Very grown-up of you.", "That sounds grim."))),
        ]
    if k == 4:
        return [
            ("A", f"Work was a circus today, {pick(rng, WORK_GRIPES)}."),
            ("B", pick(rng, ("Classic.", "Same old.", "I'd have gone home."))),
            ("A", "Anyway, it's nearly Friday."),
        ]
    if k == 5:
        return [
            ("A", f"Oh, {pick(rng, NEIGHBOURS)}."),
            ("B", pick(rng, ("Never a dull moment on your street.", "Ha, of course.", "Oh dear."))),
        ]
    if k == 6:
        return [
            ("A", f"Did you hear {pick(rng, THIRD_PARTIES)} {pick(rng, THIRD_NEWS)}?"),
            ("B", pick(rng, ("No way!", "Good for them.", "I had no idea."))),
            (
                "C",
                pick(
                    rng,
                    (
                        "Wait, who's that?",
                        "Small world.",
                        "Everyone's doing something exciting except me.",
                    ),
                ),
            ),
        ]
    if k == 7:
        return [
            ("A", f"Did you see {pick(rng, SPORTS)}?"),
            (
                "B",
                pick(
                    rng,
                    (
                        "Don't talk to me about it.",
                        "Missed it, was it good?",
                        "Unbelievable, wasn't it.",
                    ),
                ),
            ),
            (
                "A",
                pick(
                    rng,
                    (
                        "Next week will be better.",
                        "I shouted at the telly.",
                        "I switched off at half time.",
                    ),
                ),
            ),
        ]
    if k == 8:
        return [
            ("A", f"{pick(rng, SLEEP)[0].upper()}{pick(rng, SLEEP)[1:]}."),
            ("B", pick(rng, ("Coffee, then.", "Same, honestly.", "Early night tonight."))),
        ]
    if k == 9:
        return [
            ("A", f"I finally bought {pick(rng, SHOPPING)}."),
            ("B", pick(rng, ("About time!", "Photos or it didn't happen.", "Where from?"))),
            (
                "A",
                pick(
                    rng,
                    (
                        "The shop by the station.",
                        "Online, it arrived in a day.",
                        "A charity shop, a bargain.",
                    ),
                ),
            ),
        ]
    if k == 10:
        return [
            ("A", "Sorry, I'm a bit distracted, I've got a deadline tomorrow."),
            ("B", "No worries, we can keep it short."),
        ]
    if k == 11:
        return [
            ("A", "Did you get my message about the weekend?"),
            (
                "B",
                pick(
                    rng,
                    (
                        "Yes, sorry, I forgot to reply.",
                        "I did, I'm still not sure.",
                        "Which one? My phone's a mess.",
                    ),
                ),
            ),
            ("A", "No rush, let me know."),
        ]
    if k == 12:
        return [
            ("A", f"Has anyone got a good recipe for {pick(rng, FOODS)}?"),
            (
                "B",
                pick(
                    rng,
                    ("Mine always goes wrong.", "I'll send you my mum's.", "Just add more garlic."),
                ),
            ),
        ]
    if k == 13:
        return [
            ("A", "The trains were a nightmare this morning."),
            ("B", pick(rng, ("Signal failure again?", "That's why I cycle.", "Were you late?"))),
            (
                "A",
                pick(
                    rng, ("Forty minutes late.", "Stood all the way.", "I gave up and got a bus.")
                ),
            ),
        ]
    if k == 14:
        return [
            (
                "A",
                pick(rng, ("Haha, that's brilliant.", "Oh stop, I'm crying.", "You're hilarious.")),
            ),
            ("B", pick(rng, ("I try.", "I'm here all week.", "Ha!"))),
        ]
    if k == 15:
        return [
            (
                "A",
                pick(
                    rng,
                    (
                        "Anyway, how's everyone doing?",
                        "What else is new?",
                        "Tell me something good.",
                    ),
                ),
            ),
            (
                "B",
                pick(
                    rng,
                    ("Not much, honestly, just work.", "Surviving.", "Quiet week, which I needed."),
                ),
            ),
        ]
    if k == 16:
        return [
            ("A", "Can you recommend a book for a long train journey, {B}?"),
            (
                "B",
                pick(
                    rng,
                    (
                        "Anything by Le Guin.",
                        "A fat thriller, the sillier the better.",
                        "I'm the wrong person, I only read recipe books.",
                    ),
                ),
            ),
            ("A", "Noted, thanks."),
        ]
    if k == 17:
        return [
            (
                "A",
                pick(
                    rng,
                    (
                        "My phone screen cracked again.",
                        "My laptop fan sounds like a jet engine.",
                        "The router died, I'm on my phone's hotspot.",
                    ),
                ),
            ),
            (
                "B",
                pick(
                    rng,
                    (
                        "Have you tried turning it off and on?",
                        "Time for a new one.",
                        "Technology hates you personally.",
                    ),
                ),
            ),
        ]
    if k == 18:
        return [
            ("A", "The queue at the post office was out the door."),
            ("B", pick(rng, ("It's always like that on Mondays.", "Did you get what you needed?"))),
            ("A", "Eventually."),
        ]
    if k == 19:
        return [
            (
                "A",
                pick(
                    rng,
                    (
                        "Is it me, or is everything getting more expensive?",
                        "A coffee cost me four pounds today.",
                        "My energy bill arrived. I'm scared.",
                    ),
                ),
            ),
            (
                "B",
                pick(
                    rng,
                    (
                        "It's not just you.",
                        "Don't get me started.",
                        "We should all move to the countryside.",
                    ),
                ),
            ),
        ]
    if k == 20:
        return [
            ("A", "Random question, {B}: tea or coffee in the afternoon?"),
            (
                "B",
                pick(
                    rng, ("Tea, always.", "Coffee, I have no self-control.", "Water, like a saint.")
                ),
            ),
            (
                "C",
                pick(rng, ("Hot chocolate, obviously.", "Both, at once.", "Whatever's nearest.")),
            ),
        ]
    if k == 21:
        return [
            (
                "A",
                pick(
                    rng,
                    (
                        "I found a tenner in an old coat pocket.",
                        "I found my old school reports in the loft.",
                        "I found a photo of us from years ago.",
                    ),
                ),
            ),
            ("B", pick(rng, ("Best feeling.", "Send it to the group!", "Ha, brilliant."))),
        ]
    if k == 22:
        return [
            (
                "A",
                pick(
                    rng,
                    (
                        "The clocks change this weekend, don't forget.",
                        "Is Monday a bank holiday?",
                        "Are the shops open on Sunday?",
                    ),
                ),
            ),
            ("B", pick(rng, ("Thanks for the reminder.", "No idea, I'll check.", "I think so."))),
        ]
    return [
        (
            "A",
            pick(
                rng,
                (
                    "I've been listening to the same album on repeat all week.",
                    "I can't get that song from the advert out of my head.",
                    "I dug out my old records this weekend.",
                ),
            ),
        ),
        ("B", pick(rng, ("Which one?", "Send me the link.", "Ha, I know the feeling."))),
    ]


GREETINGS = [
    "Hey {B}! How's your week been?",
    "Morning {B}, got a minute?",
    "Hi {B}, finally!",
    "{B}! Long time no chat.",
    "Evening all.",
    "Hello hello, {B}.",
]
REPLIES = [
    "Hey {A}, busy but fine.",
    "Hi {A}! Good to hear from you.",
    "Not bad, {A}, you?",
    "Hello! Just about surviving.",
    "Hiya {A}.",
]
CLOSINGS = [
    ("Right, I need to go, talk soon.", "Bye {A}, take care!"),
    ("I'd better get some sleep.", "Night {A}!"),
    ("Got to run, dinner's burning.", "Ha, go! Speak soon."),
    ("Same time next week?", "Definitely, bye {A}."),
]


# ---------------------------------------------------------------------------------- layout


def schedule(rng: random.Random, stories: list[Story], sessions: list[tuple[str, ...]]) -> None:
    """Give every beat a session with its person in it, in story order, in distinct sessions."""
    load = [0] * len(sessions)
    for s in stories:
        mine = [i for i, g in enumerate(sessions) if s.person in g]
        k = len(s.beats)
        # two draws spread over at least a quarter of the months; keep the less loaded one
        draws = []
        while len(draws) < 2:
            chosen = sorted(rng.sample(mine, k))
            if chosen[-1] - chosen[0] >= len(sessions) // 4:
                draws.append(chosen)
        chosen = min(draws, key=lambda d: sum(load[i] for i in d))
        for beat, i in zip(s.beats, chosen, strict=True):
            beat.session = i
            load[i] += 1


def fill(text: str, names: dict[str, str]) -> str:
    for role, name in names.items():
        text = text.replace("{" + role + "}", name)
    return text


def build() -> dict[str, str]:
    """The two files' contents, by file name."""
    rng = random.Random(SEED)
    order = [GROUPS[i % len(GROUPS)] for i in range(N_SESSIONS)]
    rng.shuffle(order)
    sessions = order
    dates: list[datetime] = []
    day = START
    for _ in sessions:
        hour = rng.choice((8, 12, 18, 19, 20, 21))
        dates.append(day.replace(hour=hour, minute=rng.randrange(60)))
        day += timedelta(days=rng.randint(3, 8))

    stories = make_stories(rng)
    schedule(rng, stories, sessions)
    crosses = cross_questions(rng, stories)
    topics = list(TOPICS)
    rng.shuffle(topics)
    topic_at: dict[int, list[tuple[str, ...]]] = {}
    for j, t in enumerate(topics):  # each topic comes up in two sessions, with other people
        first = (j * N_SESSIONS) // len(topics) + rng.randrange(2)
        later = [i for i, g in enumerate(sessions) if abs(i - first) >= 5]
        apart = [i for i in later if not set(sessions[i]) & set(sessions[first])]
        topic_at.setdefault(first, []).append(t)
        topic_at.setdefault(rng.choice(apart or later), []).append(t)
    verdicts: dict[tuple[str, str], str] = {}  # (topic, person): one opinion, whoever asks
    mentions: dict[int, list[tuple[str, ...]]] = {}
    for t in topics:  # the name comes up again elsewhere, without an opinion
        for _ in range(2):
            mentions.setdefault(rng.randrange(N_SESSIONS), []).append(t)

    turns: list[dict[str, str]] = []
    topic_turns: list[tuple[str, str, str, str]] = []  # person, topic kind/name, q-name, turn id
    for si, group in enumerate(sessions):
        sid = f"s{si + 1:02d}"
        target = rng.randint(54, 64)
        blocks: list[tuple[str, object]] = []
        for s in stories:
            for beat in s.beats:
                if beat.session == si:
                    blocks.append(("beat", beat))
        for t in topic_at.get(si, []):
            blocks.append(("topic", t))
        for t in mentions.get(si, []):
            blocks.append(("mention", t))
        rng.shuffle(blocks)
        out: list[tuple[str, str, object]] = []  # speaker, text, beat handle

        def emit(
            lines: list[tuple[str, str]],
            roles: dict[str, str],
            handle: object = None,
            sink: list[tuple[str, str, object]] = out,
        ) -> None:
            for k, (role, text) in enumerate(lines):
                sink.append((roles[role], fill(text, roles), (handle, k) if handle else None))

        a, b = rng.sample(group, 2)
        emit([("A", pick(rng, GREETINGS)), ("B", pick(rng, REPLIES))], {"A": a, "B": b, "C": b})
        busy = 4 + sum(
            len(obj.turns) if isinstance(obj, Beat) else 2 if kind == "mention" else 1 + len(group)
            for kind, obj in blocks
        )
        fillers = max(4, round((target - busy) / 2.4))
        kinds = list(range(SMALL_TALK_KINDS))
        rng.shuffle(kinds)  # no chat repeats within a session
        slots: list[tuple[str, object]] = blocks + [("chat", k) for k in kinds[:fillers]]
        rng.shuffle(slots)
        for kind, obj in slots:
            if kind == "chat":
                a, b = rng.sample(group, 2)
                c = next((x for x in group if x not in (a, b)), a)
                assert isinstance(obj, int)
                emit(small_talk(rng, obj), {"A": a, "B": b, "C": c})
            elif kind == "beat":
                beat = obj
                assert isinstance(beat, Beat)
                others = [x for x in group if x != beat.person]
                emit(beat.turns, {"P": beat.person, "O": rng.choice(others)}, beat)
            elif kind == "topic":
                kind_, name, qname, opener = obj  # type: ignore[misc]
                opener_by = rng.choice(group)
                out.append((opener_by, opener, None))
                speakers = [x for x in rng.sample(group, len(group)) if x != opener_by]
                for person in [*speakers, opener_by]:  # the one who asked answers last
                    if (name, person) not in verdicts:
                        taken = {v for (n, _), v in verdicts.items() if n == name}
                        fresh = [x for x in OPINION_LINES[kind_] if x not in taken]
                        verdicts[(name, person)] = pick(rng, fresh or OPINION_LINES[kind_])
                    line = verdicts[(name, person)]
                    intro = pick(rng, ("", "", f"{name}? ", "For me, ", "Honestly, "))
                    text = intro + (
                        line if not intro or intro.endswith("? ") else line[0].lower() + line[1:]
                    )
                    out.append((person, text, ("topic", person, kind_, name, qname)))
            else:  # mention
                _, name, _, _ = obj  # type: ignore[misc]
                a, b = rng.sample(group, 2)
                out.append(
                    (
                        a,
                        pick(
                            rng,
                            (
                                f"We should go to {name} sometime.",
                                f"Someone at work wouldn't shut up about {name}.",
                                f"Remind me to tell you about {name} later.",
                                f"Is {name} worth it, do you think?",
                            ),
                        ),
                        None,
                    )
                )
                out.append(
                    (
                        b,
                        pick(
                            rng,
                            (
                                "Maybe, I've heard mixed things.",
                                "Sure, why not.",
                                "Ha, go on then.",
                                "Ask the others, they've been.",
                            ),
                        ),
                        None,
                    )
                )
        a, b = rng.sample(group, 2)
        bye = pick(rng, CLOSINGS)
        emit([("A", bye[0]), ("B", bye[1])], {"A": a, "B": b, "C": b})
        t = dates[si]
        for k, (speaker, text, handle) in enumerate(out):
            tid = f"{sid}:t{k + 1:03d}"
            t += timedelta(seconds=rng.randint(15, 120))
            turns.append(
                {
                    "id": tid,
                    "session": sid,
                    "time": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "speaker": speaker,
                    "text": text[0].upper() + text[1:],
                }
            )
            if isinstance(handle, tuple) and isinstance(handle[0], Beat):
                handle[0].ids.append(tid)
            elif isinstance(handle, tuple) and handle[0] == "topic":
                topic_turns.append((handle[1], handle[3], handle[4], tid))
        # beats may have been emitted out of story order within the session: ids are per beat
    return _files(rng, stories, crosses, topic_turns, dates, turns)


def _files(
    rng: random.Random, stories: list[Story], crosses, topic_turns, dates, turns
) -> dict[str, str]:  # type: ignore[no-untyped-def]
    questions: list[dict[str, object]] = []

    def date_of(beat: Beat) -> str:
        return dates[beat.session].strftime("%Y-%m-%d")

    for s in stories:
        ds = {f"d{i}": date_of(b) for i, b in enumerate(s.beats)}
        for q in s.questions:
            ev = [s.beats[bi].ids[ti] for bi, ti in q.evidence]
            questions.append(
                {
                    "question": q.text,
                    "category": q.category,
                    "evidence": ev,
                    "answer": q.answer.format(**ds),
                }
            )
    for q, ev in crosses:
        questions.append(
            {
                "question": q.text,
                "category": q.category,
                "evidence": [st.beats[bi].ids[ti] for st, bi, ti in ev],
                "answer": q.answer,
            }
        )
    said: dict[tuple[str, str], list[str]] = {}  # (topic, person): their turns on it
    for person, _, qname, tid in topic_turns:
        said.setdefault((qname, person), []).append(tid)
    text_of = {t["id"]: t["text"] for t in turns}
    for (qname, person), tids in said.items():
        text = pick(
            rng,
            (
                f"What did {person} think of {qname}?",
                f"How did {person} rate {qname}?",
                f"What was {person}'s verdict on {qname}?",
            ),
        )
        questions.append(
            {
                "question": text,
                "category": "speaker_specific",
                "evidence": tids,
                "answer": text_of[tids[0]],
            }
        )
    for i, q in enumerate(questions):
        q["id"] = f"q{i + 1:04d}"
    _split(questions)
    keys = ("id", "question", "category", "evidence", "answer", "split")
    qlines = [json.dumps({k: q[k] for k in keys}, ensure_ascii=False) for q in questions]
    tlines = [json.dumps(t, ensure_ascii=False) for t in turns]
    return {TURNS_FILE: "\n".join(tlines) + "\n", QUESTIONS_FILE: "\n".join(qlines) + "\n"}


def _split(questions: list[dict[str, object]]) -> None:
    """Stratified by category: per category, by seeded hash of the id, first half is train."""
    cats = sorted({str(q["category"]) for q in questions})
    for cat in cats:
        mine = [q for q in questions if q["category"] == cat]
        mine.sort(key=lambda q: hashlib.sha256(f"{SEED}:{q['id']}".encode()).hexdigest())
        half = (len(mine) + 1) // 2
        for i, q in enumerate(mine):
            q["split"] = "train" if i < half else "test"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=DATA)
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        stale = [
            n
            for n, text in files.items()
            if not (args.out / n).exists() or (args.out / n).read_text(encoding="utf-8") != text
        ]
        for n in stale:
            print(f"{args.out / n} differs from the generator's output", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for n, text in files.items():
        (args.out / n).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / n} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
