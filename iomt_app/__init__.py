"""The application above every tier: the ``iomt`` command (``cli``, one module per subcommand group in
``commands``), the one-command demo (``demo``) and the embedded MQTT broker (``brokers``).

It is the only package that knows argparse and the process environment: it parses the command line,
reads the environment once, and calls each tier's plain typed entry functions
(``firmware_sim.service``, ``edge.service``, ``gateway.service``, ``cloud.pipeline``). Nothing imports it.
"""
