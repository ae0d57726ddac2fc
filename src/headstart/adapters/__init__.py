"""Parameter-efficient adapters: bottleneck adapters (Houlsby, Pfeiffer) and Compacter made here
(`bottleneck`), LoRA / IA3 / prefix / prompt through peft (`peft_methods`), saving and switching them
(`store`). `names` holds what needs no torch. The package itself imports nothing heavy, so reading the
strategies' option declarations (the CLI's --help) does not load torch."""
