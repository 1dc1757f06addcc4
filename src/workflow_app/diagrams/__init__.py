"""A landlord's diagrams as the product reads them: parsed BPMN, restricted expressions,
forms, and the Code check that judges a diagram before it is deployed."""
