"""The dialogue manager's bookkeeping, on a scripted backend (real backends: test_backends, test_embedded)."""

from dialogue.backends.base import BackendUnavailable
from dialogue.manager import APOLOGY, INTERRUPTED_MARK, DialogueManager
from dialogue.prompts import DEFAULT_SYSTEM_PROMPT


class ScriptedBackend:
    name = "scripted"
    model = "scripted"
    sees_images = True

    def __init__(self, reply: str = "Paris is the capital. It is lovely.", fail_after: int | None = None):
        self.reply = reply
        self.fail_after = fail_after
        self.seen: list[list] = []

    def stream(self, messages, options):
        self.seen.append(list(messages))
        for i, word in enumerate(self.reply.split(" ")):
            if self.fail_after is not None and i == self.fail_after:
                raise BackendUnavailable("gone")
            yield word + " "

    def describe(self):
        return "scripted"


def test_system_prompt_first_and_history_grows():
    backend = ScriptedBackend()
    manager = DialogueManager(backend)
    manager.reply("Hi")
    manager.reply("And again")
    sent = backend.seen[-1]
    assert sent[0].role == "system" and sent[0].content == DEFAULT_SYSTEM_PROMPT
    assert [m.role for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2].content == "Paris is the capital. It is lovely."


def test_images_go_with_their_turn_only():
    backend = ScriptedBackend()
    manager = DialogueManager(backend)
    manager.reply("What is this?", images=[b"jpegbytes"])
    manager.reply("And now?")
    first, second = backend.seen
    assert first[-1].images == (b"jpegbytes",)
    assert all(not m.images for m in second)
    assert "image" in second[1].content  # a note of what was shown stays


def test_interrupted_reply_keeps_only_what_was_heard():
    backend = ScriptedBackend()
    manager = DialogueManager(backend)
    turn = manager.begin_turn("Where?")
    pieces = turn.pieces()
    next(pieces)
    pieces.close()
    turn.finish("Paris is", interrupted=True)
    assert manager.history[-1].content == "Paris is" + INTERRUPTED_MARK


def test_backend_failure_before_any_text_gives_an_apology():
    manager = DialogueManager(ScriptedBackend(fail_after=0))
    turn = manager.begin_turn("Hello?")
    assert "".join(turn.pieces()) == APOLOGY
    turn.finish()
    assert turn.record.error == "gone"


def test_backend_failure_mid_reply_keeps_what_was_said():
    manager = DialogueManager(ScriptedBackend(fail_after=3))
    assert manager.reply("Hello?") == "Paris is the"


def test_history_is_bounded():
    backend = ScriptedBackend()
    manager = DialogueManager(backend, max_history_messages=4)
    for i in range(6):
        manager.reply(f"question {i}")
    assert len(backend.seen[-1]) == 1 + 4 + 1


def test_a_model_that_cannot_see_gets_local_facts_and_is_told_so():
    backend = ScriptedBackend()
    backend.sees_images = False
    manager = DialogueManager(backend, image_describer=lambda data: f"{len(data)} bytes, text reads 'EXIT'")
    turn = manager.begin_turn("What does the sign say?", images=[b"12345"])
    list(turn.pieces())
    turn.finish()
    sent = backend.seen[0][-1]
    assert not sent.images
    assert "cannot see images" in sent.content and "'EXIT'" in sent.content
    assert not turn.record.images_seen
    assert turn.record.user == "What does the sign say?"


def test_warm_up_reads_the_system_prompt_and_remembers_nothing():
    backend = ScriptedBackend()
    manager = DialogueManager(backend)
    manager.warm_up()
    assert backend.seen[0][0].content == DEFAULT_SYSTEM_PROMPT
    assert manager.history == []


def test_warm_up_survives_a_backend_that_is_down():
    manager = DialogueManager(ScriptedBackend(fail_after=0))
    manager.warm_up()
    assert manager.history == []
