"""chinwag: one assistant on Slack, Telegram and REST, with a Rasa-format dialogue core.

The only top-level name chinwag installs is this package. Its subpackages live at the top of
the source tree, where the layout puts them, and are linked in here:

- ``chinwag.adapters``: the aiohttp hub and the platform channels (they translate);
- ``chinwag.core``: understanding, tracking and deciding (the dialogue core);
- ``chinwag.channel_responses``: rendering responses for each channel.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("chinwag")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
