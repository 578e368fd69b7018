"""Names of the files a training worker writes into its iteration folder (no heavy imports here)."""

JOB = "job.json"
PROGRESS = "progress.jsonl"
CHECKPOINT = "checkpoint.pt"
BEST_POLICY = "best_policy.pt"
TRAIN_RESULT = "train_result.json"
EVAL_RESULT = "eval_result.json"
