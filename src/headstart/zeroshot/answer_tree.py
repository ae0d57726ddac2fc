"""All labels' answers as one token tree, scored in a single forward pass over a text's cache.

Answers share beginnings ("card arrival", "card linking", "top up failed", "top up reverted"): each
distinct answer prefix is fed once, as a node that attends to the prompt, the text and its own ancestors
only (a 4D attention mask), at the position it would have in the plain sequence. A node's output
predicts the next token of every answer through it, so one pass scores every label, and a shared
prefix costs one token instead of one per label. Rotary and learned position embeddings both see the
same positions as in `prompt + text + answer`, hence the same numbers (tested against full sequences).
transformers has no such "score these continuations" call (generate scores one sequence per beam).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["AnswerTree"]


@dataclass
class AnswerTree:
    """The answer-prefix tree of a label set.

    Attributes:
        answers: each label's answer token ids (end-of-answer token included).
        tokens: the token fed at each node, shape (N,).
        depth: 1-based depth of each node: its offset after the text.
        ancestors: (N, N) bool, [q, k] = node k is node q or one of its ancestors.
        source: for every (answer, token) pair, the row of the log-prob table that predicts it
            (0: the text's last position; 1 + n: node n).
        target: the token predicted there.
        owner: the answer (label index) each pair belongs to.
    """

    answers: list[list[int]]
    tokens: torch.Tensor
    depth: torch.Tensor
    ancestors: torch.Tensor
    source: torch.Tensor
    target: torch.Tensor
    owner: torch.Tensor

    @classmethod
    def build(cls, answers: list[list[int]]) -> AnswerTree:
        node_of: dict[tuple[int, ...], int] = {}
        tokens, depth, parent = [], [], []
        source, target, owner = [], [], []
        for label, answer in enumerate(answers):
            up = -1
            for i, token in enumerate(answer):
                source.append(0 if i == 0 else 1 + node_of[tuple(answer[:i])])
                target.append(token)
                owner.append(label)
                if i == len(answer) - 1:
                    break  # the last token is predicted, never fed
                key = tuple(answer[: i + 1])
                if key not in node_of:
                    node_of[key] = len(tokens)
                    tokens.append(token)
                    depth.append(i + 1)
                    parent.append(up)
                up = node_of[key]
        n = len(tokens)
        ancestors = torch.zeros(n, n, dtype=torch.bool)
        for q in range(n):  # parents come before their children
            ancestors[q, q] = True
            if parent[q] >= 0:
                ancestors[q] |= ancestors[parent[q]]
        return cls(answers, torch.tensor(tokens, dtype=torch.long), torch.tensor(depth, dtype=torch.long),
                   ancestors, torch.tensor(source), torch.tensor(target), torch.tensor(owner))

    @property
    def size(self) -> int:
        return len(self.tokens)

    def inputs(self, rows: list[list[int]], n_prefix: int, pad: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Input ids, position ids and the attention mask for texts `rows` after a cached prefix.

        Each row is its text (right-padded to the longest) followed by the N tree nodes.

        Returns:
            ids (B, S), positions (B, S), mask (B, S, n_prefix + S) bool, True where a query may attend;
            S = longest row + N.
        """
        b, width, n = len(rows), max(map(len, rows)), self.size
        seq = width + n
        ids = torch.full((b, seq), pad, dtype=torch.long)
        positions = torch.full((b, seq), n_prefix, dtype=torch.long)
        mask = torch.zeros(b, seq, n_prefix + seq, dtype=torch.bool)
        mask[:, :, :n_prefix] = True  # everything sees the prompt's shared prefix
        causal = torch.tril(torch.ones(width, width, dtype=torch.bool))
        for i, row in enumerate(rows):
            t = len(row)
            ids[i, :t] = torch.tensor(row)
            ids[i, width:] = self.tokens
            positions[i, :t] = n_prefix + torch.arange(t)
            positions[i, width:] = n_prefix + t - 1 + self.depth  # as if the answer followed the text
            mask[i, :t, n_prefix : n_prefix + t] = causal[:t, :t]
            mask[i, width:, n_prefix : n_prefix + t] = True  # nodes see the whole text ...
            mask[i, width:, n_prefix + width :] = self.ancestors  # ... and their own branch
        return ids, positions, mask

    def answer_sums(self, logp: torch.Tensor) -> torch.Tensor:
        """Sum of each answer's token log-probs, from a (1 + N, V) table (row 0: the text's last position)."""
        per_token = logp[self.source, self.target]
        return torch.zeros(len(self.answers), dtype=per_token.dtype).index_add_(0, self.owner, per_token)
