"""Dataset building: raw events -> actions -> steps and episodes -> exports."""
