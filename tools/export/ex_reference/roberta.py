"""RoBERTa encoder, masked-LM head and sequence-classification head with Hugging Face parameter names.

`forward` takes `input_ids` or `inputs_embeds` (plus optional `attention_mask`, `position_ids`, `token_type_ids`) and
returns an object with `.logits`, like `RobertaForMaskedLM` / `RobertaForSequenceClassification`. Positions follow
RoBERTa: ids count from `pad_token_id + 1`; from `input_ids` padding tokens keep `pad_token_id`, from `inputs_embeds`
the positions are `pad_token_id + 1 …` in order. Dropout is absent (inference only).
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import torch
import torch.nn as nn
import torch.nn.functional as F


class RobertaConfig(SimpleNamespace):
    """The config.json fields the model needs, with RoBERTa's defaults."""

    DEFAULTS = dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                    hidden_act="gelu", max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1,
                    bos_token_id=0, eos_token_id=2, num_labels=2, id2label=None)

    @classmethod
    def from_dict(cls, d: dict) -> "RobertaConfig":
        kw = dict(cls.DEFAULTS)
        kw.update({k: v for k, v in d.items() if not k.startswith("_")})
        if kw.get("id2label"):
            kw["num_labels"] = len(kw["id2label"])
        return cls(**kw)


def activation(name: str):
    if name == "gelu":
        return lambda x: F.gelu(x)
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu
    raise ValueError(f"unsupported hidden_act {name!r}")


class RobertaEmbeddings(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.c = c
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size, padding_idx=c.pad_token_id)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, input_ids=None, inputs_embeds=None, position_ids=None, token_type_ids=None):
        pad = self.c.pad_token_id
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
            if position_ids is None:
                keep = input_ids.ne(pad).long()
                position_ids = torch.cumsum(keep, dim=1) * keep + pad
        elif position_ids is None:
            n = inputs_embeds.shape[1]
            position_ids = (torch.arange(n, device=inputs_embeds.device) + pad + 1).unsqueeze(0)
        if token_type_ids is None:
            token_type_ids = torch.zeros(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
        x = inputs_embeds + self.token_type_embeddings(token_type_ids) + self.position_embeddings(position_ids)
        return self.LayerNorm(x)


class RobertaSelfAttention(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.heads = c.num_attention_heads
        self.head_dim = c.hidden_size // c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)

    def split(self, x):
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, h, additive_mask):
        q, k, v = self.split(self.query(h)), self.split(self.key(h)), self.split(self.value(h))
        s = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        if additive_mask is not None:
            s = s + additive_mask
        c = torch.softmax(s, dim=-1) @ v
        b, _, n, _ = c.shape
        return c.transpose(1, 2).reshape(b, n, self.heads * self.head_dim)


class RobertaDenseLN(nn.Module):
    """`attention.output` and `output`: dense, residual, LayerNorm."""

    def __init__(self, d_in: int, d_out: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)
        self.LayerNorm = nn.LayerNorm(d_out, eps=eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class RobertaAttention(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.self = RobertaSelfAttention(c)
        self.output = RobertaDenseLN(c.hidden_size, c.hidden_size, c.layer_norm_eps)

    def forward(self, h, additive_mask):
        return self.output(self.self(h, additive_mask), h)


class RobertaIntermediate(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)
        self.act = activation(c.hidden_act)

    def forward(self, h):
        return self.act(self.dense(h))


class RobertaLayer(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.attention = RobertaAttention(c)
        self.intermediate = RobertaIntermediate(c)
        self.output = RobertaDenseLN(c.intermediate_size, c.hidden_size, c.layer_norm_eps)

    def forward(self, h, additive_mask):
        a = self.attention(h, additive_mask)
        return self.output(self.intermediate(a), a)


class RobertaEncoder(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.layer = nn.ModuleList([RobertaLayer(c) for _ in range(c.num_hidden_layers)])


class RobertaModel(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.c = c
        self.embeddings = RobertaEmbeddings(c)
        self.encoder = RobertaEncoder(c)

    def forward(self, input_ids=None, inputs_embeds=None, attention_mask=None, position_ids=None, token_type_ids=None):
        h = self.embeddings(input_ids=input_ids, inputs_embeds=inputs_embeds, position_ids=position_ids, token_type_ids=token_type_ids)
        additive = None
        if attention_mask is not None:
            additive = (1.0 - attention_mask[:, None, None, :].to(h.dtype)) * torch.finfo(h.dtype).min
        for layer in self.encoder.layer:
            h = layer(h, additive)
        return h


class RobertaLMHead(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.layer_norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.decoder = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(c.vocab_size))

    def forward(self, h):
        return self.decoder(self.layer_norm(F.gelu(self.dense(h)))) + self.bias


class RobertaForMaskedLM(nn.Module):
    """`roberta` (no pooler) + `lm_head`, decoder tied to the word embeddings."""

    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.config = c
        self.roberta = RobertaModel(c)
        self.lm_head = RobertaLMHead(c)
        self.lm_head.decoder.weight = self.roberta.embeddings.word_embeddings.weight

    def get_input_embeddings(self):
        return self.roberta.embeddings.word_embeddings

    def forward(self, input_ids=None, inputs_embeds=None, attention_mask=None, position_ids=None, token_type_ids=None):
        h = self.roberta(input_ids=input_ids, inputs_embeds=inputs_embeds, attention_mask=attention_mask, position_ids=position_ids,
                         token_type_ids=token_type_ids)
        return SimpleNamespace(logits=self.lm_head(h))


class RobertaClassificationHead(nn.Module):
    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.out_proj = nn.Linear(c.hidden_size, c.num_labels)

    def forward(self, h):
        return self.out_proj(torch.tanh(self.dense(h[:, 0, :])))


class RobertaForSequenceClassification(nn.Module):
    """`roberta` (no pooler) + `classifier` reading the first position."""

    def __init__(self, c: RobertaConfig):
        super().__init__()
        self.config = c
        self.roberta = RobertaModel(c)
        self.classifier = RobertaClassificationHead(c)

    def get_input_embeddings(self):
        return self.roberta.embeddings.word_embeddings

    def forward(self, input_ids=None, inputs_embeds=None, attention_mask=None, position_ids=None, token_type_ids=None):
        h = self.roberta(input_ids=input_ids, inputs_embeds=inputs_embeds, attention_mask=attention_mask, position_ids=position_ids,
                         token_type_ids=token_type_ids)
        return SimpleNamespace(logits=self.classifier(h))


# Keys a published checkpoint may hold that these classes do not use: buffers and the unused pooler.
IGNORED_KEYS = ("roberta.embeddings.position_ids", "roberta.pooler.", "lm_head.decoder.bias")


def load_state(model: nn.Module, state: dict) -> None:
    """Loads a Hugging Face state dict: unused keys of IGNORED_KEYS are dropped, every parameter must be present
    (the tied MLM decoder may be missing: it is the word embedding)."""
    state = {k: v for k, v in state.items() if not k.startswith(IGNORED_KEYS)}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k != "lm_head.decoder.weight"]
    if missing or unexpected:
        raise ValueError(f"checkpoint does not fit the model: missing {missing[:8]}, unexpected {unexpected[:8]}")
