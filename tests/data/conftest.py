import pytest

# Small public-domain-style English documents, written by the tests themselves.
DOCS = [
    "It was the best of times, it was the worst of times.\nIt was the age of wisdom.",
    "Call me Ishmael. Some years ago, never mind how long precisely, I went to sea.",
    "In a hole in the ground there lived a creature; not a nasty, dirty, wet hole.",
    "All happy families are alike; each unhappy family is unhappy in its own way.",
    "Whan that Aprille with his shoures soote the droghte of March hath perced to the roote.",
    "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer",
    "Now is the winter of our discontent made glorious summer by this sun of York.",
    "Of Mans First Disobedience, and the Fruit of that Forbidden Tree, whose mortal tast",
    "The quality of mercy is not strained; it droppeth as the gentle rain from heaven.",
    "Friends, Romans, countrymen, lend me your ears; I come to bury Caesar, not to praise him.",
    "Shall I compare thee to a summer's day? Thou art more lovely and more temperate.",
    "O Romeo, Romeo! wherefore art thou Romeo? Deny thy father and refuse thy name.",
    "Unicode too: naïve café, Ελληνικά, 東京, emoji 🎭 — and a tab\there.",
]


@pytest.fixture
def docs():
    return list(DOCS)
