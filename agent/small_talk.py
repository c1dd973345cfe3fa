"""Greetings, thanks, goodbyes and "are you a bot?": a short polite reply instead of an FAQ search.

A message is small talk only when ALL of it is: "hi" is, "hi, how do I activate my card?" is not (that one
is searched like any question). So a real question is never swallowed, and a message like "thanks, bye"
still counts as small talk. Small talk is not an FAQ gap and does not count toward a handoff
(agent/policy.py).
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class SmallTalk(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    BOT_QUESTION = "bot_question"


MAX_CHARS = 80  # longer messages carry a question even when they open with "hi" or "thanks"

# Whole phrases, lower case after NFKC. English phrases must end at a word boundary ("hi" is not "hint").
_PHRASES: dict[SmallTalk, tuple[str, ...]] = {
    SmallTalk.GREETING: (
        r"(hi|hello|hey|hiya|howdy|greetings|good (morning|afternoon|evening|day))( there| team| all| findesk)?",
        r"how are you( doing| today)*",
        r"你好|您好|嗨|哈喽|哈啰|早上好|上午好|下午好|晚上好|在吗|在不在|你好吗",
    ),
    SmallTalk.THANKS: (
        r"(many |big )?(thanks|thank you|thank u|thx|ty|cheers)( (so|very) much| a lot| again| for (the|your) help)?",
        r"(ok|okay|great|perfect|got it|understood|cool|nice|awesome)",
        r"(that|this|it) (helped|helps|was helpful|is helpful|works|worked)( a lot)?",
        r"(that's|that is|very) (helpful|great|perfect|clear)",
        r"谢谢(你|您)?|多谢|感谢(你|您)?|非常感谢|谢啦|好的|明白了|知道了|懂了|有帮助|解决了|没问题了",
    ),
    SmallTalk.GOODBYE: (
        r"(bye|goodbye|good bye|bye bye|see you|see ya|take care|have a (nice|good|great) (day|evening|weekend))",
        r"(that's|that is) all|nothing else|no more questions",
        r"再见|拜拜|回见|没有了|没别的了|就这些",
    ),
    SmallTalk.BOT_QUESTION: (
        r"(are you|is this|am i (talking|chatting|speaking) (to|with)) (a |an )?(real )?"
        r"(bot|robot|chatbot|machine|ai|human|person|computer|real person)",
        r"are you real|who am i (talking|chatting|speaking) (to|with)|what are you",
        r"你是(不是)?(机器人|真人|人工|ai|人工智能|真的人)(吗|么|嘛)?|是(机器人|真人)(吗|么)|你是谁",
    ),
}
_MATCHERS = [(kind, re.compile(f"(?:{p})(?![a-z])")) for kind, patterns in _PHRASES.items() for p in patterns]
# Politeness that may surround the phrases without changing what the message is.
_FILLER = re.compile(r"(?:please|pls|so|and|oh|ah|well|yes|yeah|yep|no|nope|hm+|嗯+|哦+|啊|呀|的|了)(?![a-z])")
_SEPARATORS = re.compile(r"[^\w']+|_+")  # punctuation, emoji and spaces; letters, CJK and apostrophes are kept
_PRIORITY = (SmallTalk.BOT_QUESTION, SmallTalk.GOODBYE, SmallTalk.THANKS, SmallTalk.GREETING)

REPLIES: dict[SmallTalk, dict[str, str]] = {
    SmallTalk.GREETING: {
        "en": "Hello! How can I help you today? You can ask about cards, transfers, fees, your account or the app.",
        "zh": "您好！请问有什么可以帮您？可以咨询银行卡、转账、费用、账户或 App 相关问题。",
    },
    SmallTalk.THANKS: {
        "en": "You're welcome! Is there anything else I can help you with?",
        "zh": "不客气！还有其他可以帮您的吗？",
    },
    SmallTalk.GOODBYE: {
        "en": "Thank you for contacting us. Goodbye, and have a good day!",
        "zh": "感谢您的咨询，再见，祝您生活愉快！",
    },
    SmallTalk.BOT_QUESTION: {
        "en": "I'm FinDesk's virtual assistant: I answer from our FAQ. If you'd rather talk to a member of our "
        'team, press "Talk to a person" at any time.',
        "zh": "我是 FinDesk 智能助手，根据常见问题为您解答。如需人工服务，可随时点击“转人工”。",
    },
}


def small_talk_kind(text: str) -> SmallTalk | None:
    """The kind of small talk when the whole message is small talk, else None (search it as a question)."""
    normal = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'").strip()
    if not normal or len(normal) > MAX_CHARS:
        return None
    rest = _SEPARATORS.sub(" ", normal).strip()
    found: set[SmallTalk] = set()
    while rest:
        for kind, matcher in _MATCHERS:
            if match := matcher.match(rest):
                found.add(kind)
                break
        else:
            match = _FILLER.match(rest)
            if not match:
                return None  # something that is not small talk: a real question
        rest = rest[match.end() :].lstrip()
    return next((kind for kind in _PRIORITY if kind in found), None)


def small_talk_reply(kind: SmallTalk, language: str) -> str:
    replies = REPLIES[kind]
    return replies.get(language, replies["en"])
