"""What the pages show, computed with the engine: per-timestep traces, the activation race, the
gradient-check lab, trained models (`python -m core.lab`), captioning helpers, metrics and sizes."""
