"""``python -m musicgenre``: the same as the ``musicgenre`` command."""

from musicgenre.cli import run

if __name__ == "__main__":  # not when imported, e.g. by pytest's doctest collection
    run()
