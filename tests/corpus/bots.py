"""The real bots of ../shared/corpus that load clean (rasa-testdata is a folder of fixtures)."""

CORPUS_BOTS = [
    "breakoutbot",
    "carbon-bot",
    "fallback-button",
    "financial-demo",
    "helpdesk-assistant",
    "rasa-concertbot",
    "rasa-e2ebot",
    "rasa-formbot",
    "rasa-initial-project",
    "rasa-knowledgebasebot",
    "rasa-moodbot",
    "rasa-reminderbot",
    "rasa-responseselectorbot",
    "rasa-rules",
    "retrieval-jina",
    "retrieval-lunr",
]
