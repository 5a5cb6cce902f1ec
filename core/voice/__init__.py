"""Voice input: microphone capture (`capture`), whisper.cpp transcription (`transcribe`), the
speech hint from the user's contacts (`hints`), the ggml model check (`ggml_file`), the
CTranslate2 -> ggml converter (`ct2ggml`), word error rate (`wer`) and the numpy helpers they
share (`audio`).

Nothing here imports sounddevice or pywhispercpp at import time: both load native
libraries, and the rest of the app must work (and start fast) without them.
"""
