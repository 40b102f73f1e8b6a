"""PostgreSQL on RDS with a password that RDS rotates (Django's ENGINE "config.rds")."""
