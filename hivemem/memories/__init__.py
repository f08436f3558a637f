"""Long-term memories (SPEC §10): records, relationships, decay, keyword and semantic search."""
