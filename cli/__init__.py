"""Entry points: the `kaigo` command (cli.main), the dev stack, demo seed and operator jobs.

They sit above every other package (they may import api, services, workflows); nothing imports them.
"""
