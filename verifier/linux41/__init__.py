"""The Linux 4.1 verifier's own analysis, for the `linux-4.1` profile: its abstract domain
(`domain`: nine register types, stack bytes marked spilled or misc), its helper prototypes
(`helpers`) and its walk of every path with its own state pruning (`walk`). It produces the same
alarms as the modern analysis, each with the 4.1 kernel's own message beside ours."""
