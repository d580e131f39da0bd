"""The index: embedding, storage backends, ranking and the knowledge base facade (`knowledge_base.py`)."""
