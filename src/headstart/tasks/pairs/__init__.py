"""Sentence-pair classification (NLI, paraphrase, question-answer relevance): two texts, one label."""
