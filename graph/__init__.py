"""The Generator Agent as a LangGraph ``StateGraph``, with its CLI and server entry points."""
