"""What trainers need: exports of runs (SFT, DPO, KTO, verl), rewards, rollouts driven step by step,
Gymnasium environments and LangChain tools bound to a live task kernel."""
