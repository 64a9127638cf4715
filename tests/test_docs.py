"""The examples in the package docstring run as written."""

import doctest

import cleaner


def test_package_docstring_example_runs():
    result = doctest.testmod(cleaner, verbose=False)
    assert result.attempted >= 3 and result.failed == 0
