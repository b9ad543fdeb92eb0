"""The CDN in front of the origin: POPs (`pop`), their eviction policies (`eviction`), the router
(`router`), the headless player and ABR rules (`player`) and the simulator (`sim`). The CDN
talks to the origin over HTTP only."""
