"""A generated corpus for the knowledge benchmark: visitor pages of places in an invented town, and
questions about them worded the way a visitor would ask (not with the page's words).

Deterministic for a seed. Places share names across kinds ("Lindenfield Museum", "Lindenfield Park") and
every page has the same sections, so the right passage must be told apart by what is asked, not only by
a rare name. Off-topic questions check that "nothing relevant" is recognised.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

_NAMES = (
    "Lindenfield Ashcombe Briarwood Coldharbour Dunmore Eastwick Fernhill Glenrock Hartwell Ivybridge "
    "Juniper Kestrel Larkspur Marlow Northgate Oakhurst Pennington Quarrydale Redmere Saltmarsh Thornbury "
    "Underhill Valebrook Westerly Yarrow Zephyr Amberley Bellcote Copperfield Drayton"
).split()
_KINDS = ("Museum", "Park", "Library", "Swimming Pool", "Gallery", "Botanic Garden", "Castle", "Observatory")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_FOUNDERS = "Ada Marsh|Tobias Wren|Clara Holt|Ewan Pike|Nadia Frost|Owen Hale|Rosa Quill|Felix Dunn".split(
    "|"
)
_FILLER = (
    "Staff at the front desk are happy to help with any question.",
    "Information boards in several languages are placed throughout the site.",
    "The town council reviews these arrangements every spring.",
    "School groups are asked to book at least two weeks ahead.",
    "Volunteers run guided walks on most weekends during the summer.",
)

SECTIONS = (
    "History",
    "Opening hours",
    "Tickets and prices",
    "Getting there",
    "Accessibility",
    "Food and drink",
    "Pets",
)
OFF_TOPIC = (
    "Who won the football world cup in 1998?",
    "How do I bake sourdough bread at home?",
    "What is the capital city of Australia?",
    "How many moons does Jupiter have?",
    "What is the best way to learn the piano as an adult?",
    "Explain how a diesel engine works.",
    "Who wrote the novel Pride and Prejudice?",
    "What is the boiling point of water on Mount Everest?",
    "How do I reset my wifi router password?",
    "What's a good recipe for vegetable curry?",
)


@dataclass(frozen=True)
class Question:
    text: str
    path: str  # the page (file name) that answers it
    heading: str  # the section that answers it


@dataclass(frozen=True)
class Page:
    name: str  # file name
    title: str
    sections: dict[str, str]

    def markdown(self) -> str:
        body = [f"# {self.title}", ""]
        for heading, text in self.sections.items():
            body += [f"## {heading}", "", text, ""]
        return "\n".join(body)


def _page(rng: random.Random, title: str, founder: str) -> tuple[Page, dict[str, str]]:
    """A page and the facts its questions are about."""
    closed = rng.choice(_DAYS)
    opens, closes = rng.randint(8, 11), rng.randint(16, 21)
    late = rng.choice([d for d in _DAYS if d != closed])
    year = rng.randint(1820, 1990)
    adult, child = rng.randint(5, 24), rng.randint(0, 4)
    bus, stop = (
        rng.randint(2, 99),
        rng.choice(("Market Square", "Riverside", "Old Mill", "Station Road", "Church Lane")),
    )
    spaces = rng.randint(20, 400)
    cafe = rng.choice(
        ("a café on the ground floor", "a small kiosk by the entrance", "a restaurant on the terrace")
    )
    dogs = rng.choice((True, False))
    filler = " ".join(rng.sample(_FILLER, 2))
    sections = {
        "History": f"{title} was founded in {year} by {founder}, whose family lived nearby. "
        f"It was restored after a fire and reopened to the public with new displays. {filler}",
        "Opening hours": f"{title} opens at {opens}:00 and closes at {closes}:00. "
        f"It is closed every {closed}. On {late}s it stays open until 22:00. "
        "Last entry is thirty minutes before closing.",
        "Tickets and prices": f"Admission for adults is {adult} euros. "
        f"Children under twelve pay {child} euros. Members and carers go free. "
        "Tickets are sold at the door and online.",
        "Getting there": f"Bus line {bus} stops at {stop}, a five-minute walk away. "
        f"The car park has {spaces} spaces and charges by the hour. Bicycle racks are by the main gate.",
        "Accessibility": f"{title} has step-free access through the side entrance, a lift to every floor and "
        "accessible toilets. Wheelchairs can be borrowed free of charge at the desk.",
        "Food and drink": f"There is {cafe}, serving hot meals, sandwiches and vegetarian dishes. "
        "Picnics are welcome in the garden.",
        "Pets": (
            "Dogs are welcome on a lead in all outdoor areas; water bowls are by the entrance."
            if dogs
            else "Pets are not allowed inside, except assistance dogs."
        ),
    }
    facts = {"closed": closed, "late": late, "stop": stop, "bus": str(bus)}
    return Page("", title, sections), facts


def _questions(title: str, path: str, facts: dict[str, str], rng: random.Random) -> list[Question]:
    asked = {
        "History": [f"Who started {title} and when?", f"How old is {title}?"],
        "Opening hours": [
            f"Can I visit {title} on a {facts['closed']}?",
            f"Until what time can I stay at {title} on {facts['late']}s?",
            f"When does {title} shut in the evening?",
        ],
        "Tickets and prices": [
            f"How much does it cost to get into {title}?",
            f"Do kids pay to enter {title}?",
        ],
        "Getting there": [
            f"How do I reach {title} by public transport?",
            f"Where can I leave my car at {title}?",
        ],
        "Accessibility": [f"Can someone in a wheelchair get around {title}?"],
        "Food and drink": [f"Where can I get lunch at {title}?"],
        "Pets": [f"Can I take my dog to {title}?"],
    }
    heading = rng.choice(SECTIONS)
    return [Question(rng.choice(asked[heading]), path, heading)]


def generate(pages: int = 120, seed: int = 13) -> tuple[list[Page], list[Question]]:
    """`pages` pages and one question for each of the first min(pages, 60) pages, plus OFF_TOPIC."""
    rng = random.Random(seed)
    places = [f"{name} {kind}" for name in _NAMES for kind in _KINDS]
    rng.shuffle(places)
    out: list[Page] = []
    questions: list[Question] = []
    for i in range(pages):
        lap = i // len(places)
        title = places[i % len(places)] + (f" Annex {lap}" if lap else "")
        page, facts = _page(rng, title, rng.choice(_FOUNDERS))
        name = f"{i:04d}-{title.lower().replace(' ', '-')}.md"
        out.append(Page(name, page.title, page.sections))
        if i < 60:
            questions += _questions(title, name, facts, rng)
    return out, questions


def write(pages: list[Page], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for page in pages:
        path = folder / page.name
        path.write_text(page.markdown(), encoding="utf-8")
        paths.append(path)
    return paths
