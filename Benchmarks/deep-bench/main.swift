print("deep-bench")
