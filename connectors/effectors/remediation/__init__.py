"""The league-server supervisor: runs a process and carries out remediation commands."""
