"""Our PostgreSQL backend (Django's ENGINE "config.postgres"): Django's, plus a rotated
RDS password read again when PostgreSQL refuses the old one, and a kept connection
checked before each request without a round trip when the server has said nothing."""
