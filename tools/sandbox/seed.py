"""The sandbox's demo world: invented people, mail, notes, reminders, events and files.

Everything here is made up (names, example.com addresses, 555-01xx numbers). Dates are fixed
so a freshly seeded world always has the same fingerprint.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tinyagent.tools.sandbox.pdf import write_pdf

SEED_VERSION = "1"
SEEDED_AT = "2024-05-06 09:00:00"

# first, last, email, phone, company
CONTACTS = [
    ("John", "Carter", "john.carter@example.com", "+1 415 555 0101", "Northwind Labs"),
    ("Sarah", "Lindqvist", "sarah.lindqvist@example.com", "+1 415 555 0102", "Northwind Labs"),
    ("Emily", "Okafor", "emily.okafor@example.org", "+1 415 555 0103", ""),
    ("Mike", "Brennan", "mike.brennan@example.com", "+1 415 555 0104", "Brennan Design"),
    ("David", "Moreau", "david.moreau@example.net", "+1 415 555 0105", "Northwind Labs"),
    ("Lisa", "Tanaka", "lisa.tanaka@example.com", "+1 415 555 0106", ""),
    ("Tom", "Whitfield", "tom.whitfield@example.org", "+1 415 555 0107", "Harbor Clinic"),
    ("Mary", "Delacroix", "mary.delacroix@example.com", "+1 415 555 0108", ""),
    ("Alex", "Rivera", "alex.rivera@example.net", "+1 415 555 0109", "Northwind Labs"),
    ("Anna", "Kowalski", "anna.kowalski@example.com", "+1 415 555 0110", ""),
    ("Priya", "Raman", "priya.raman@example.org", "+1 415 555 0111", "Northwind Labs"),
    ("Daniel", "Okafor", "daniel.okafor@example.org", "+1 415 555 0112", ""),
    ("Grace", "Holloway", "grace.holloway@example.com", "+1 415 555 0113", "City Library"),
    ("Omar", "Haddad", "omar.haddad@example.net", "+1 415 555 0114", ""),
    ("Nina", "Petrov", "nina.petrov@example.com", "+1 415 555 0115", "Northwind Labs"),
]

ME = "me@example.com"
CALENDARS = [("Home", 1), ("Work", 0), ("Family", 0)]
NOTE_FOLDERS = ["Notes", "Work", "Recipes"]
REMINDER_LISTS = [("Reminders", 1), ("Groceries", 0), ("Work", 0)]

# calendar, title, start, end, location, invitees, notes
EVENTS = [
    ("Work", "Weekly planning", "2024-05-06 10:00:00", "2024-05-06 10:30:00", "Room 4B",
     ["sarah.lindqvist@example.com", "alex.rivera@example.net"], ""),
    ("Home", "Dentist", "2024-05-08 16:00:00", "2024-05-08 16:45:00", "Harbor Clinic", [], "Bring insurance card"),
    ("Family", "Anna's birthday dinner", "2024-05-11 19:00:00", "2024-05-11 21:30:00", "Luigi's Trattoria",
     ["anna.kowalski@example.com"], ""),
]

# folder, name, content
NOTES = [
    ("Notes", "Packing list", "Passport\nCharger\nRunning shoes"),
    ("Work", "Project Falcon ideas", "Cache the route tiles.\nAsk Priya about the launch date."),
    ("Work", "Meeting notes", "Budget review moved to Thursday. Alex owns the vendor list."),
    ("Recipes", "Lemon pasta", "Spaghetti, lemon zest, parmesan, butter, black pepper."),
]

# list, name, due, notes, priority
REMINDERS = [
    ("Groceries", "Buy oat milk", "", "", 0),
    ("Reminders", "Renew library card", "2024-05-10 12:00:00", "Ask Grace about the new hours", 5),
    ("Work", "Send the quarterly report", "2024-05-09 17:00:00", "", 1),
]

# sender, subject, body, date, selected
INBOX = [
    ("sarah.lindqvist@example.com", "Q2 budget review",
     "Hi,\n\nCould you look over the attached budget before Thursday? The travel line went up "
     "and I'd like a second opinion.\n\nThanks,\nSarah", "2024-05-06 08:12:00", 1),
    ("mike.brennan@example.com", "Logo drafts", "Three options are in the shared folder. "
     "I like the second one best.", "2024-05-05 17:40:00", 0),
    ("grace.holloway@example.com", "Your reservation is ready",
     "The book you reserved is waiting at the front desk until Friday.", "2024-05-04 11:03:00", 0),
]

_QUARTERLY = [
    "Northwind Labs had a strong second quarter. Revenue grew twelve percent over the first quarter, "
    "driven by the new route planning service, which now has forty enterprise customers.",
    "Operating costs rose five percent, mostly from cloud hosting and two new support hires. "
    "Travel spending was above plan and will be capped for the third quarter.",
    "Next quarter the team will focus on offline maps, faster sync and a pilot with the city library. "
    "The board approved a hiring plan of four engineers.",
]
_LEASE = [
    "This lease is between Harbor Properties (the landlord) and the tenant for the apartment at "
    "221 Alder Street, Unit 3. The term is twelve months starting June 1, 2024.",
    "Monthly rent is 2,150 dollars, due on the first day of each month. A late fee of 50 dollars applies "
    "after the fifth day. The security deposit is one month's rent.",
    "The tenant may not sublet without written consent. Pets are allowed with a 300 dollar deposit. "
    "Either party may end the lease with sixty days' written notice after the first six months.",
]
_PAPER = [
    "Small language models can call tools reliably when they are trained on plans rather than prose. "
    "This paper studies function calling with models under two billion parameters running on a laptop.",
    "We fine-tune a 1.1 billion parameter model on synthetic plans and retrieve only the relevant tools "
    "for each request, which shortens the prompt and reduces errors.",
    "On our benchmark the small model matches a much larger hosted model in success rate while "
    "answering in under a second on a consumer CPU.",
]

# file name -> text content (PDFs get written as real PDFs)
PDFS = {
    "Quarterly Report Q2.pdf": ("Quarterly Report: Q2 2024", _QUARTERLY),
    "Apartment Lease.pdf": ("Residential Lease Agreement", _LEASE),
    "Tool Calling on Small Models.pdf": ("Tool Calling on Small Models", _PAPER),
}
TEXT_FILES = {
    "meeting-agenda.txt": "Agenda\n1. Budget review\n2. Offline maps timeline\n3. Hiring plan\n",
    "Trip Itinerary.docx": "Day 1: fly to Lisbon, check in at Casa Azul.\nDay 2: tram 28, Belem.\n",
    "Resume.docx": "Experienced product engineer. Skills: Python, SQL, mobile apps.\n",
    "grocery-list.txt": "eggs\nspinach\noat milk\ncoffee beans\n",
}


def write_files(files_dir: Path) -> None:
    """Create the demo files; existing files with the same names are replaced."""
    files_dir.mkdir(parents=True, exist_ok=True)
    # Each file appears whole (written aside, then renamed): another process seeding the same
    # new sandbox, or reading it, never sees half a PDF.
    for name, (title, paragraphs) in PDFS.items():
        tmp = files_dir / f".{name}.{os.getpid()}-{threading.get_ident()}.tmp"
        write_pdf(tmp, title, paragraphs)
        os.replace(tmp, files_dir / name)
    for name, text in TEXT_FILES.items():
        tmp = files_dir / f".{name}.{os.getpid()}-{threading.get_ident()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, files_dir / name)
