"""The planner texts TinyAgent-1.1B/7B were fine-tuned on, reproduced byte for byte.

Source: SqueezeAILab/TinyAgent at commit 0074615 (MIT License, Copyright (c) 2024
SqueezeAILab; see NOTICE): src/llm_compiler/planner.py (JOIN_DESCRIPTION, the header and
guidelines of generate_llm_compiler_prompt), src/tiny_agent/prompts.py (the fixed rules,
TOOL_SPECIFIC_PROMPTS, DEFAULT_PLANNER_IN_CONTEXT_EXAMPLES_PROMPT, PLANNER_PROMPT_REPLAN)
and src/tiny_agent/tiny_agent_tools.py (each tool's description and the tool order of
get_tiny_agent_tools). These strings are an interface the weights depend on, like a file
format: typos included ("succesfully"), they must not be edited. The code that assembles
them is in core/planner/tinyagent.py; tests compare it with ../shared/golden.
"""

from __future__ import annotations

END_OF_PLAN = "<END_OF_PLAN>"

# get_tiny_agent_tools' fixed order: the prompt always lists the tools in it.
TOOL_ORDER: tuple[str, ...] = (
    "create_calendar_event", "get_phone_number", "get_email_address", "open_and_get_file_path",
    "summarize_pdf", "compose_new_email", "reply_to_email", "forward_email", "maps_open_location",
    "maps_show_directions", "create_note", "open_note", "append_note_content", "create_reminder",
    "send_sms", "get_zoom_meeting_link",
)

_CONTEXT_RULE = (" - The context parameter is optional and should only be used to pass down some intermediate "
                 "result. Otherwise, just leave it as empty string.\n")
_SINGLE_OR_LIST = " - The recipients and cc parameters can be a single email or a list of emails.\n"
_ATTACHMENTS = " - The attachments parameter can be a single file path or a list of file paths.\n"
_NOTE_FOLDER = (" - If a folder is specified, the note is created in that folder; otherwise, it's created "
                "in the default folder.\n")

# Tool.description of each tool, as numbered in the prompt.
TOOL_DESCRIPTIONS: dict[str, str] = {
    "create_calendar_event": (
        "create_calendar_event(title: str, start_date: str, end_date: str, location: str, invitees: list[str], "
        "notes: str, calendar: str) -> str\n"
        " - Create a calendar event.\n"
        " - The format for start_date and end_date is 'YYYY-MM-DD HH:MM:SS'.\n"
        " - For invitees, you need a list of email addresses; use an empty list if not applicable.\n"
        " - For location, notes, and calendar, use an empty string or None if not applicable.\n"
        " - Returns the status of the event creation.\n"
    ),
    "get_phone_number": (
        "get_phone_number(name: str) -> str\n"
        " - Search for a contact by name.\n"
        " - Returns the phone number of the contact.\n"
    ),
    "get_email_address": (
        "get_email_address(name: str) -> str\n"
        " - Search for a contact by name.\n"
        " - Returns the email address of the contact.\n"
    ),
    "open_and_get_file_path": (
        "open_and_get_file_path(file_name: str) -> str\n"
        " - Opens the file and returns its path.\n"
    ),
    "summarize_pdf": (
        "summarize_pdf(pdf_path: str) -> str\n"
        " - Summarizes the content of a PDF file and returns the summary.\n"
        " - This tool can only be used AFTER calling open_and_get_file_path tool to get the PDF file path.\n"
    ),
    "compose_new_email": (
        "compose_new_email(recipients: list[str], cc: list[str], subject: str, context: str, "
        "attachments: list[str]) -> str\n"
        " - Composes a new email and returns the status of the email composition.\n"
        + _SINGLE_OR_LIST + _ATTACHMENTS + _CONTEXT_RULE
        + " - You MUST put a map location in the 'context' parameter if you want to send a location in the email.\n"
        " - If you want to send a zoom link, you MUST put the zoom link in the 'context' parameter.\n"
    ),
    "reply_to_email": (
        "reply_to_email(cc: list[str], context: str, attachments: list[str]) -> str\n"
        " - Replies to the currently selected email in Mail with the given content.\n"
        " - The cc parameter can be a single email or a list of emails.\n"
        + _ATTACHMENTS + _CONTEXT_RULE
    ),
    "forward_email": (
        "forward_email(recipients: list[str], cc: list[str], context: str, attachments: list[str]) -> str\n"
        " - Forwards the currently selected email in Mail with the given content.\n"
        + _SINGLE_OR_LIST + _ATTACHMENTS + _CONTEXT_RULE
    ),
    "maps_open_location": (
        "maps_open_location(location: str) -> str\n"
        " - Opens the specified location in Apple Maps.\n"
        " - The query can be a place name, address, or coordinates.\n"
        " - Returns the URL of the location in Apple Maps.\n"
    ),
    "maps_show_directions": (
        "maps_show_directions(start_location: str, end_location: str, transport: str) -> str\n"
        " - Show directions from a start location to an end location in Apple Maps.\n"
        " - The transport parameter defaults to 'd' (driving), but can also be 'w' (walking) or 'r' (public transit).\n"
        " - The start location can be left empty to default to the current location of the device.\n"
        " - Returns the URL of the location and directions in Apple Maps.\n"
    ),
    "create_note": (
        "create_note(name: str, content: str, folder: str) -> str\n"
        " - Creates a new note with the given content.\n"
        " - The name is used as the title of the note.\n"
        " - The content is the main text of the note.\n"
        " - The folder is optional, use an empty string if not applicable.\n"
        " - Returns the status of the note creation.\n"
    ),
    "open_note": (
        "open_note(name: str, folder: str) -> str\n"
        " - Opens an existing note by its name.\n"
        + _NOTE_FOLDER
        + " - Returns the content of the note.\n"
    ),
    "append_note_content": (
        "append_note_content(name: str, content: str, folder: str) -> str\n"
        " - Appends content to an existing note.\n"
        + _NOTE_FOLDER
        + " - Returns the status of the content appending.\n"
    ),
    "create_reminder": (
        "create_reminder(name: str, due_date: str, notes: str, list_name: str, priority: int, all_day: bool) -> str\n"
        " - Creates a new reminder and returns the status of the reminder creation.\n"
        " - The format for due_date is 'YYYY-MM-DD HH:MM:SS'. If 'all_day' is True, then the format is 'YYYY-MM-DD'.\n"
        " - The list_name is optional, use an empty string if not applicable.\n"
        " - The priority is optional and defaults to 0.\n"
        " - The all_day parameter is optional and defaults to False.\n"
    ),
    "send_sms": (
        "send_sms(recipients: list[str], message: str) -> str\n"
        " - Send an SMS to a list of phone numbers.\n"
        " - The recipients argument can be a single phone number or a list of phone numbers.\n"
        " - Returns the status of the SMS.\n"
    ),
    "get_zoom_meeting_link": (
        "get_zoom_meeting_link(topic: str, start_time: str, duration: int, meeting_invitees: Sequence[str]) -> str\n"
        " - Creates a Zoom meeting and returns the join URL.\n"
        " - You need to call create_calendar_event to attach the zoom link as a note to the calendar event, or "
        "compose_new_email to send the link to the invitees in the body of the email.\n"
        " - 'topic', 'start_time', 'duration', and 'meeting_invitees' are required.\n"
        " - 'duration' is in minutes.\n"
        " - The format for start_time is 'YYYY-MM-DD HH:MM:SS'.\n"
    ),
}

JOIN_DESCRIPTION = (
    "join():\n"
    " - Collects and combines results from prior actions.\n"
    " - A LLM agent is called upon invoking join to either finalize the user query or wait until the plans are executed.\n"
    " - join should always be the last action in the plan, and will be called in two scenarios:\n"
    "   (a) if the answer can be determined by gathering the outputs from tasks to generate the final response.\n"
    "   (b) if the answer cannot be determined in the planning phase before you execute the plans. "
)

HEADER = ("Given a user query, create a plan to solve it with the utmost parallelizability. "
          "Each plan should comprise an action from the following {n} types:\n")

GUIDELINES = (
    "Guidelines:\n"
    " - Each action described above contains input/output types and description.\n"
    "    - You must strictly adhere to the input and output types for each action.\n"
    "    - The action descriptions contain the guidelines. You MUST strictly follow those guidelines when you use the actions.\n"
    " - Each action in the plan should strictly be one of the above types. Follow the Python conventions for each action.\n"
    " - Each action MUST have a unique ID, which is strictly increasing.\n"
    " - Inputs for actions can either be constants or outputs from preceding actions. "
    "In the latter case, use the format $id to denote the ID of the previous action whose output will be the input.\n"
    f" - Always call join as the last action in the plan. Say '{END_OF_PLAN}' after you call join\n"
    " - Ensure the plan maximizes parallelizability.\n"
    " - Only use the provided action types. If a query cannot be addressed using these, invoke the join action for the next steps.\n"
    " - Never explain the plan with comments (e.g. #).\n"
    " - Never introduce new actions other than the ones provided.\n\n"
)

REPLAN_GUIDELINES = (
    ' - You are given "Previous Plan" which is the plan that the previous agent created along with the execution results '
    "(given as Observation) of each plan and a general thought (given as Thought) about the executed results."
    'You MUST use these information to create the next plan under "Current Plan".\n'
    ' - When starting the Current Plan, you should start with "Thought" that outlines the strategy for the next plan.\n'
    " - In the Current Plan, you should NEVER repeat the actions that are already executed in the Previous Plan.\n"
)

EXAMPLES_HEADER = "Here are some examples:\n\n"

# get_planner_custom_instructions_prompt; {now} is strftime('%A %Y-%m-%d %H:%M').
FIXED_RULES = (
    " - You need to start your plan with the '1.' call\n"
    " - Today's date is {now}\n"
    " - Unless otherwise specified, the default meeting duration is 60 minutes.\n"
    " - Do not use named arguments in your tool calls.\n"
    " - You MUST end your plans with the 'join()' call and a '\\n' character.\n"
    " - You MUST fill every argument in the tool calls, even if they are optional.\n"
    " - The format for dates MUST be in ISO format of 'YYYY-MM-DD HH:MM:SS', unless other specified.\n"
    " - If you want to use the result of a previous tool call, you MUST use the '$' sign followed by the index of the tool call.\n"
    " - You MUST ONLY USE join() at the very very end of the plan, or you WILL BE PENALIZED.\n"
)

_MAIL = frozenset({"get_email_address", "compose_new_email", "reply_to_email", "forward_email"})
_SMS = frozenset({"get_phone_number", "send_sms"})

# (tools, rule): a rule is added when any of its tools is offered, in this order.
TOOL_SPECIFIC_RULES: tuple[tuple[frozenset[str], str], ...] = (
    (_MAIL, " - Before sending an email, you MUST use the get_email_address tool to get the email addresses of the "
            "recipients and cc, unless you are explicitly given their email addresses.\n"),
    (_SMS, " - Before sending an SMS, you MUST use the get_phone_number tool to get the phone number of the contact, "
           "unless you are explicitly given their phone number.\n"
           " - If you need to send an SMS message to multiple contacts, send it in one message, unless specified otherwise.\n"),
    (_MAIL | _SMS, " - If you need to send an email or an sms using compose_new_email, reply_to_email, forward_email, "
                   "or send_sms tools, you MUST send it before calling join(), or you WILL BE PENALIZED!\n"),
    (frozenset({"get_zoom_meeting_link"}),
     " - If you need to create a zoom meeting, you MUST use get_zoom_meeting_link to get the newly created zoom meeting link.\n"),
    (frozenset({"open_note", "append_note_content"}),
     " - If you need to append some content to a note, you DON'T HAVE TO call open_note before calling "
     "append_note_content. You can directly use append_note_content to append some content to the specific note.\n"),
    (frozenset({"maps_open_location", "maps_show_directions"}),
     " - If you need to show directions to a place, you DON'T HAVE TO call maps_open_location before calling "
     "maps_show_directions. You can directly use maps_show_directions to show directions to the specific place.\n"),
)

DEFAULT_EXAMPLES = (
    "Question: Notify Lutfi Eren Erdogan about the upcoming Apple meeting that is going to start at 3PM on Friday.\n"
    '1. get_phone_number("Lutfi Eren Erdogan")\n'
    '2. send_sms(["$1"], "Hey Lutfi, just wanted to let you know about the upcoming Apple meeting. It\'s going to be at 3 PM on Friday.")\n'
    "Thought: I have succesfully found the contact and sent the message.\n"
    f"3. join(){END_OF_PLAN}\n"
    "###\n"
    "Question: Create a zoom meeting for the upcoming Apple meeting with Eren Erdoğan.\n"
    '1. get_email_address("Eren Erdoğan")\n'
    '2. get_zoom_meeting_link("Apple Meeting", "2022-10-14 15:00:00", 60, ["$1"])\n'
    '3. create_calendar_event("Apple Meeting", "2022-10-14 15:00:00", "2022-10-14 16:00:00", "$2", [], "", None)\n'
    "Thought: I have succesfully created the calendar event.\n"
    f"4. join(){END_OF_PLAN}\n"
    "###\n"
    "Question: Show directions to Apple Park.\n"
    '1. maps_show_directions("", "Apple Park", "d")\n'
    "Thought: I have succesfully shown the directions.\n"
    f"2. join(){END_OF_PLAN}\n"
    "###\n"
    "Question: Send an email to Amir saying that the meeting is postponed to next week.\n"
    '1. get_email_address("Amir")\n'
    '2. compose_new_email(["$1"], [], "Meeting Postponed," "", [])\n'
    f"3. join(){END_OF_PLAN}\n"
    "###\n"
)

REPLAN_EXAMPLES = (
    "Question: Say hi to Sid via SMS.\n\n"
    "Previous Plan:\n\n"
    "1. join()\n"
    "Observation:\nThe plan generation was stopped due to an error in tool 1. get_contact_info('Sid')! "
    "Error: Tool get_contact_info not found. You MUST correct this error and try again!"
    "\n"
    "Current Plan:\n\n"
    "Thought: The error is fixable since I have the get_phone_number tool to retrieve the phone number of Sid. "
    "Then I will proceed with sending the SMS.\n"
    '1. get_phone_number("Sid")\n'
    '2. send_sms("$2", "Hi Sid!")\n'
    "Thought: I have succesfully created the retrieved the phone number and sent the SMS.\n"
    f"4. join(){END_OF_PLAN}\n"
    "###\n"
    "Question: Summarize 'Apple Demo.pdf'.\n\n"
    "Previous Plan:\n\n"
    '1. open_and_get_file_path("Apple Demo")\n'
    "2. join()\n"
    "Observation: summarize_pdf() takes 1 positional arguments but 2 were given! You MUST correct this error and try again!"
    "\n"
    "Current Plan:\n\n"
    "Thought: Previous plan tried to call the summarize_pdf() tool with the wrong number of arguments. "
    "I will correct this and try again.\n"
    '1. open_and_get_file_path("Apple Demo")\n'
    '2. summarize_pdf("$1")\n'
    "Thought: I have succesfully opened the file and summarized it.\n"
    f"3. join(){END_OF_PLAN}\n"
    "###\n"
)

# TinyAgent's ToolRAG keeps at most this many in-context examples (TinyAgent._DEFAULT_TOP_K).
MAX_EXAMPLES = 6
# LLMCompiler(max_replans=2): two rounds in all, the second one's joiner may only finish.
ROUNDS = 2
