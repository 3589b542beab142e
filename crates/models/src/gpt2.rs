//! GPT-2
