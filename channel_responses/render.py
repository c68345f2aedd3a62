"""Render a channel-neutral response dict in the form native to each platform.

A response has the keys ``text``, ``buttons`` (``[{title, payload}]``), ``quick_replies``,
``image``, ``attachment``, ``custom`` and ``elements``, plus the optional Telegram layout keys
``button_type`` (``inline`` | ``vertical`` | ``reply``) and ``buttons_per_row``.

Every renderer follows Rasa's ``OutputChannel.send_response`` (rasa/core/channels/channel.py):
``quick_replies`` win over ``buttons``, which carry the text in the same message (unsplit);
plain text is split on blank lines into separate messages; then, independently and in this
order, ``custom``, ``image``, ``attachment`` and ``elements`` (each element becomes
``"title : subtitle"`` with the element's buttons) are sent.

* :func:`render_slack` gives ``chat.postMessage`` keyword arguments (the adapter adds
  ``channel`` and ``thread_ts``; keys a ``custom`` payload sets itself must win);
* :func:`render_telegram` gives ``(Bot API method, params)`` pairs with JSON-able
  ``reply_markup`` dicts (the adapter adds ``chat_id`` unless a ``custom`` payload set it);
  :func:`send_telegram` sends one pair with a python-telegram-bot ``Bot``;
* :func:`render_rest` gives the messages of Rasa's REST channel (``CollectingOutputChannel``).
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from telegram import Bot

logger = logging.getLogger(__name__)

# Block Kit limits (docs.slack.dev, block and element reference pages)
SLACK_MAX_ACTIONS = 25  # elements per actions block
SLACK_MAX_BUTTON_TEXT = 75
SLACK_MAX_BUTTON_VALUE = 2000
SLACK_MAX_SECTION_TEXT = 3000
SLACK_MAX_BLOCKS = 50  # blocks per message
SLACK_ACTION_ID = "chinwag_btn_{}"
SLACK_BLOCK_ID = "chinwag_buttons_{}"

# Bot API limits (core.telegram.org/bots/api)
TELEGRAM_MAX_TEXT = 4096
TELEGRAM_MAX_CALLBACK_DATA = 64  # bytes of UTF-8
# Telegram refuses a message without text, so buttons sent without text get this one
TELEGRAM_BUTTONS_TEXT = "Please choose:"

# Rasa's TelegramOutput.send_custom_json: the first key set fully present picks the method
# (Rasa spells invoice's "description" as "decription"; here it is spelled as the API does)
TELEGRAM_CUSTOM_METHODS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("text",), "sendMessage"),
    (("photo",), "sendPhoto"),
    (("audio",), "sendAudio"),
    (("document",), "sendDocument"),
    (("sticker",), "sendSticker"),
    (("video",), "sendVideo"),
    (("video_note",), "sendVideoNote"),
    (("animation",), "sendAnimation"),
    (("voice",), "sendVoice"),
    (("media",), "sendMediaGroup"),
    (("latitude", "longitude", "title", "address"), "sendVenue"),
    (("latitude", "longitude"), "sendLocation"),
    (("phone_number", "first_name"), "sendContact"),
    (("game_short_name",), "sendGame"),
    (("action",), "sendChatAction"),
    (
        ("title", "description", "payload", "provider_token", "currency", "prices"),
        "sendInvoice",
    ),
)


# ---------------------------------------------------------------------------------- common


def split_text(text: str) -> list[str]:
    """Text cut on blank lines into message parts, as Rasa's channels do (empty parts dropped)."""
    return [part for part in text.strip().split("\n\n") if part.strip()]


def _choices(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The buttons to show: quick replies win over buttons (Rasa's precedence)."""
    return list(response.get("quick_replies") or response.get("buttons") or [])


def _element_text(element: Mapping[str, Any]) -> str:
    return f"{element.get('title', '')} : {element.get('subtitle', '')}"


def _chunks(text: str, size: int) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, cut after a newline or space if any."""
    pieces: list[str] = []
    while len(text) > size:
        cut = max(text.rfind("\n", 0, size), text.rfind(" ", 0, size))
        cut = cut + 1 if cut > 0 else size
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text] if text else pieces


# ----------------------------------------------------------------------------------- Slack


def render_slack(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``chat.postMessage`` keyword arguments for each Slack message of ``response``.

    Every message has a top-level ``text`` (the notification and screen-reader fallback).
    Buttons become a mrkdwn section and actions blocks of at most 25 buttons with unique
    ``action_id`` ``chinwag_btn_<i>`` and ``value`` = payload; a payload over 2000 characters
    is logged and its button dropped, a title over 75 characters is shortened.
    """
    messages: list[dict[str, Any]] = []
    text = response.get("text") or ""
    choices = _choices(response)
    if choices:
        messages.extend(_slack_buttons(text, choices))
    elif text:
        messages.extend({"text": part, "mrkdwn": True} for part in split_text(text))
    if response.get("custom"):
        messages.append(_slack_custom(response["custom"]))
    if response.get("image"):
        image = response["image"]
        block = {"type": "image", "image_url": image, "alt_text": image}
        messages.append({"text": image, "blocks": [block]})
    if response.get("attachment"):
        messages.append(_slack_attachment(response["attachment"]))
    for element in response.get("elements") or []:
        buttons = element.get("buttons") or []
        if buttons:
            messages.extend(_slack_buttons(_element_text(element), buttons))
        else:
            messages.append({"text": _element_text(element), "mrkdwn": True})
    return messages


def _slack_buttons(text: str, buttons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages showing ``text`` and ``buttons`` as Block Kit (more than 50 blocks: split)."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": piece}}
        for piece in _chunks(text, SLACK_MAX_SECTION_TEXT)
    ]
    elements = [
        element
        for index, button in enumerate(buttons)
        if (element := _slack_button(index, button)) is not None
    ]
    for start in range(0, len(elements), SLACK_MAX_ACTIONS):
        blocks.append(
            {
                "type": "actions",
                "block_id": SLACK_BLOCK_ID.format(start // SLACK_MAX_ACTIONS),
                "elements": elements[start : start + SLACK_MAX_ACTIONS],
            }
        )
    fallback = text or " ".join(str(b.get("title", "")) for b in buttons)
    if not elements:
        return [{"text": fallback, "mrkdwn": True}] if fallback else []
    return [
        {"text": fallback, "blocks": blocks[start : start + SLACK_MAX_BLOCKS]}
        for start in range(0, len(blocks), SLACK_MAX_BLOCKS)
    ]


def _slack_button(index: int, button: Mapping[str, Any]) -> dict[str, Any] | None:
    """One Block Kit button, or None (logged) when Slack would refuse it."""
    title = str(button.get("title", ""))
    payload = button.get("payload")
    if len(title) > SLACK_MAX_BUTTON_TEXT:
        logger.warning("Slack button title %r is over 75 characters; shortened", title)
        title = title[: SLACK_MAX_BUTTON_TEXT - 1] + "…"
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": title or " "},
        "action_id": SLACK_ACTION_ID.format(index),
    }
    if payload is not None:
        value = str(payload)
        if len(value) > SLACK_MAX_BUTTON_VALUE:
            logger.error(
                "Slack button %r dropped: its payload has %d characters, Slack allows %d",
                title,
                len(value),
                SLACK_MAX_BUTTON_VALUE,
            )
            return None
        element["value"] = value
    if button.get("url"):
        element["url"] = button["url"]
    if payload is None and "url" not in element:
        logger.error("Slack button %r dropped: it has neither payload nor url", title)
        return None
    return element


def _slack_custom(custom: Any) -> dict[str, Any]:
    """A custom payload as ``chat.postMessage`` kwargs, with a text fallback added if missing
    (the text of its blocks, else of its attachments)."""
    if not isinstance(custom, Mapping):
        return {"text": json.dumps(custom)}
    kwargs = copy.deepcopy(dict(custom))
    if not kwargs.get("text"):
        fallback = "\n".join(_texts(kwargs.get("blocks"))) or "\n".join(
            str(a.get("fallback") or a.get("text") or "")
            for a in kwargs.get("attachments") or []
            if isinstance(a, Mapping)
        )
        if fallback.strip():
            kwargs["text"] = fallback
    return kwargs


def _texts(value: Any) -> list[str]:
    """Every Block Kit text object's text inside ``value``, in order."""
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    if not isinstance(value, Mapping):
        return []
    if value.get("type") in ("plain_text", "mrkdwn") and isinstance(value.get("text"), str):
        return [value["text"]]
    return [text for item in value.values() for text in _texts(item)]


def _slack_attachment(attachment: Any) -> dict[str, Any]:
    """A Slack legacy attachment (a dict) with a fallback text; a URL or string as text."""
    if not isinstance(attachment, Mapping):
        return {"text": str(attachment)}
    fallback = next(
        (str(attachment[k]) for k in ("fallback", "text", "title") if attachment.get(k)),
        "Attachment",
    )
    return {"text": fallback, "attachments": [copy.deepcopy(dict(attachment))]}


# -------------------------------------------------------------------------------- Telegram


def render_telegram(
    response: Mapping[str, Any], store_payload: Callable[[str], str]
) -> list[tuple[str, dict[str, Any]]]:
    """``(method, params)`` Bot API calls for ``response`` (without ``chat_id``).

    Buttons become an inline keyboard laid out by ``button_type`` (``inline``: one row,
    ``vertical``: one per row) or ``buttons_per_row``; ``reply`` gives a one-time reply
    keyboard whose buttons send their title, as in Rasa. A payload longer than 64 UTF-8 bytes
    is replaced by ``store_payload(payload)``, a short key the adapter resolves on the click.
    """
    calls: list[tuple[str, dict[str, Any]]] = []
    text = response.get("text") or ""
    choices = _choices(response)
    if choices:
        markup = _telegram_keyboard(
            choices, response.get("button_type"), response.get("buttons_per_row"), store_payload
        )
        calls.extend(_telegram_text(text or TELEGRAM_BUTTONS_TEXT, markup))
    elif text:
        for part in split_text(text):
            calls.extend(_telegram_text(part, None))
    if response.get("custom"):
        calls.append(_telegram_custom(response["custom"], store_payload))
    if response.get("image"):
        calls.append(("sendPhoto", {"photo": response["image"]}))
    if response.get("attachment"):
        attachment = response["attachment"]
        if isinstance(attachment, str) and re.match(r"https?://", attachment):
            calls.append(("sendDocument", {"document": attachment}))
        else:
            calls.extend(_telegram_text(f"Attachment: {attachment}", None))
    for element in response.get("elements") or []:
        buttons = element.get("buttons") or []
        keyboard = _telegram_keyboard(buttons, None, None, store_payload) if buttons else None
        calls.extend(_telegram_text(_element_text(element), keyboard))
    return calls


def _telegram_text(text: str, markup: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """sendMessage calls for ``text`` (over 4096 characters: several, keyboard on the last)."""
    pieces = _chunks(text, TELEGRAM_MAX_TEXT)
    calls: list[tuple[str, dict[str, Any]]] = [("sendMessage", {"text": p}) for p in pieces]
    if markup is not None and calls:
        calls[-1][1]["reply_markup"] = markup
    return calls


def callback_data(payload: str, store_payload: Callable[[str], str]) -> str:
    """``payload`` itself if Telegram accepts it as callback_data (1-64 bytes), else its key."""
    size = len(payload.encode("utf-8"))
    return payload if 0 < size <= TELEGRAM_MAX_CALLBACK_DATA else store_payload(payload)


def _telegram_keyboard(
    buttons: list[Any],
    button_type: str | None,
    per_row: int | None,
    store_payload: Callable[[str], str],
) -> dict[str, Any]:
    """A reply_markup dict: InlineKeyboardMarkup, or ReplyKeyboardMarkup for ``reply``."""
    if button_type == "reply":
        rows: list[list[dict[str, Any]]] = []
        flat: list[dict[str, Any]] = []
        for button in buttons:  # Rasa lets a reply keyboard row be given as a list
            if isinstance(button, list):
                rows.append([{"text": str(b["title"])} for b in button])
            else:
                flat.append({"text": str(button["title"])})
        rows.extend(_rows(flat, per_row or 1))
        return {"keyboard": rows, "resize_keyboard": False, "one_time_keyboard": True}
    if button_type not in (None, "inline", "vertical"):
        logger.warning("unknown Telegram button_type %r; using an inline keyboard", button_type)
    keys = [_inline_button(button, store_payload) for button in _flatten(buttons)]
    if per_row:
        size = int(per_row)
    elif button_type == "vertical":
        size = 1
    else:
        size = max(len(keys), 1)
    return {"inline_keyboard": _rows(keys, size)}


def _flatten(buttons: list[Any]) -> list[dict[str, Any]]:
    return [b for item in buttons for b in (item if isinstance(item, list) else [item])]


def _rows(keys: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [keys[start : start + size] for start in range(0, len(keys), max(size, 1))]


def _inline_button(
    button: Mapping[str, Any], store_payload: Callable[[str], str]
) -> dict[str, Any]:
    key: dict[str, Any] = {"text": str(button.get("title", ""))}
    if button.get("url") and button.get("payload") is None:
        key["url"] = button["url"]
    else:
        key["callback_data"] = callback_data(str(button.get("payload", "")), store_payload)
    return key


def _telegram_custom(
    custom: Any, store_payload: Callable[[str], str]
) -> tuple[str, dict[str, Any]]:
    """The Bot API call a custom payload asks for: ``method`` if given, else chosen by its keys."""
    if not isinstance(custom, Mapping):
        return "sendMessage", {"text": json.dumps(custom)}
    params = copy.deepcopy(dict(custom))
    method = params.pop("method", None)
    if method is None:
        method = next(
            (
                name
                for keys, name in TELEGRAM_CUSTOM_METHODS
                if all(params.get(k) is not None for k in keys)
            ),
            None,
        )
    if method is None:
        logger.warning("custom Telegram payload %r names no Bot API method; sent as text", custom)
        return "sendMessage", {"text": json.dumps(custom)}
    markup = params.get("reply_markup")
    if isinstance(markup, Mapping) and isinstance(markup.get("inline_keyboard"), list):
        for row in markup["inline_keyboard"]:
            for key in row:
                if isinstance(key.get("callback_data"), str):
                    key["callback_data"] = callback_data(key["callback_data"], store_payload)
    return str(method), params


async def send_telegram(bot: Bot, method: str, params: Mapping[str, Any]) -> Any:
    """Call ``method`` with ``params`` through PTB's typed ``Bot`` method (e.g. ``send_message``).

    ``reply_markup`` dicts become PTB markup objects; params the PTB method does not name go
    through ``api_kwargs``. Methods PTB lacks are sent with ``Bot.do_api_request``.
    """
    from telegram import ForceReply, InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove

    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()
    call = getattr(bot, snake, None)
    if call is None:
        return await bot.do_api_request(method, api_kwargs=dict(params))
    kwargs = dict(params)
    markup = kwargs.get("reply_markup")
    if isinstance(markup, Mapping):
        if "inline_keyboard" in markup:
            kwargs["reply_markup"] = InlineKeyboardMarkup.de_json(dict(markup), bot)
        elif "keyboard" in markup:
            kwargs["reply_markup"] = ReplyKeyboardMarkup.de_json(dict(markup), bot)
        elif markup.get("remove_keyboard"):
            kwargs["reply_markup"] = ReplyKeyboardRemove.de_json(dict(markup), bot)
        elif markup.get("force_reply"):
            kwargs["reply_markup"] = ForceReply.de_json(dict(markup), bot)
    named = inspect.signature(call).parameters
    extra = {key: kwargs.pop(key) for key in list(kwargs) if key not in named}
    if extra:
        kwargs["api_kwargs"] = extra
    return await call(**kwargs)


# ------------------------------------------------------------------------------------ REST


def render_rest(response: Mapping[str, Any], recipient_id: str) -> list[dict[str, Any]]:
    """The messages Rasa's REST channel (``CollectingOutputChannel``) returns for ``response``.

    Each is ``{recipient_id, text, image, buttons, attachment, custom}`` without the None
    values; text without buttons is split on blank lines (parts kept as Rasa keeps them).
    """

    def message(**parts: Any) -> dict[str, Any]:
        obj = {"recipient_id": recipient_id, **parts}
        return {key: value for key, value in obj.items() if value is not None}

    messages: list[dict[str, Any]] = []
    choices = _choices(response)
    if choices:
        messages.append(message(text=response.get("text"), buttons=choices))
    elif response.get("text"):
        messages.extend(message(text=part) for part in response["text"].strip().split("\n\n"))
    if response.get("custom"):
        messages.append(message(custom=response["custom"]))
    if response.get("image"):
        messages.append(message(image=response["image"]))
    if response.get("attachment"):
        messages.append(message(attachment=response["attachment"]))
    for element in response.get("elements") or []:
        messages.append(message(text=_element_text(element), buttons=element.get("buttons", [])))
    return messages
