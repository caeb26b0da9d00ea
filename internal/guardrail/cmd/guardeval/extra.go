package main

func limitsSection(r *report)                       {}
