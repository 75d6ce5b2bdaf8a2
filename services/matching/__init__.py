"""The matching service: routes each demande to the actors whose themes, phases,
territory and capacity fit, with the reasons for each choice."""
