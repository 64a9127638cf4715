"""cleaner: strip promo and boilerplate paragraphs out of news articles, keep the news body.

    >>> from cleaner import Cleaner
    >>> cleaner = Cleaner.load()  # the shipped model
    >>> cleaner.clean(
    ...     "Stocks rose on Monday after the central bank signalled it would hold rates steady.\\n\\n"
    ...     "See Also: Five Stocks To Buy Now Before The Rally Ends"
    ... )
    'Stocks rose on Monday after the central bank signalled it would hold rates steady.'
"""

__version__ = "0.1.0"

from cleaner.clean import CleanerConfig, CleanResult, Cleaner, ParagraphResult, clean  # noqa: E402
from cleaner.model import ModelError  # noqa: E402
from cleaner.segment import Paragraph  # noqa: E402

__all__ = [
    "clean", "Cleaner", "CleanerConfig", "CleanResult", "ParagraphResult", "Paragraph", "ModelError",
    "__version__",
]
