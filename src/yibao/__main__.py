"""`python -m yibao …`: the same commands as the `yibao` script."""

from yibao.cli import main

main()
