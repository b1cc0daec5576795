"""The simulated backbone's secrets.

The shipped inventory and the test bed refer to them as ``env:NAME``; ``netmon demo`` and the
tests set them when unset. They protect nothing: every simulated device is on loopback.
"""

SIMULATION_SECRETS = {
    "NETMON_SIM_COMMUNITY": "netmon-sim",
    "NETMON_SIM_V3_AUTH": "netmon-sim-auth",
    "NETMON_SIM_V3_PRIV": "netmon-sim-priv",
    "NETMON_SIM_SSH_PASSWORD": "netmon-sim-ssh",
}
