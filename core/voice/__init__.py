"""Voice input: microphone capture (`capture`), whisper.cpp transcription (`transcribe`)
and the numpy helpers both use (`audio`).

Nothing here imports sounddevice or pywhispercpp at import time: both load native
libraries, and the rest of the app must work (and start fast) without them.
"""
