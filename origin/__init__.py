"""The origin: upload API, tus, jobs API, playback serving and object storage."""
