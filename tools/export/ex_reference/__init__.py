"""Small re-implementations of the model classes the exporter needs when `transformers` is not installed.

Their parameter names follow the Hugging Face classes exactly (`roberta.encoder.layer.0.attention.self.query.weight`,
`model.layers.0.self_attn.q_proj.weight`, …), so a published checkpoint loads into them unchanged. Written from the
architectures' published descriptions (RoBERTa, Llama); no code of transformers is copied.
"""
