from django.apps import AppConfig


class LeaderboardConfig(AppConfig):
    name = "basin.leaderboard"
    label = "leaderboard"
