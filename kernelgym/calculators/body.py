"""Body size: BMI, ideal / adjusted / target body weight, body surface area, maintenance fluids.

Inputs in kg and cm. Each function is self-contained (only ``math``), so that its source can be
written into a reference notebook cell as-is.
"""

from __future__ import annotations

import math
from typing import Literal

Sex = Literal["male", "female"]


def bmi(weight_kg: float, height_cm: float) -> float:
    """Body mass index, kg/m².

    Source: Quetelet index, weight / height²; WHO, Obesity: preventing and managing the global
    epidemic (TRS 894, 2000); MDCalc "BMI Calculator (Body Mass Index)".
    """
    h = height_cm / 100.0
    return weight_kg / (h * h)


def ideal_body_weight(sex: Sex, height_cm: float) -> float:
    """Ideal body weight (Devine formula), kg: 50 (men) or 45.5 (women) + 2.3 kg per inch over 60 in.

    Source: Devine BJ. Gentamicin therapy. Drug Intell Clin Pharm 1974;8:650-655;
    MDCalc "Ideal Body Weight and Adjusted Body Weight".
    """
    height_in = height_cm / 2.54
    base = 50.0 if sex == "male" else 45.5
    return base + 2.3 * (height_in - 60.0)


def adjusted_body_weight(sex: Sex, weight_kg: float, height_cm: float) -> float:
    """Adjusted body weight, kg: IBW + 0.4 x (actual weight - IBW).

    Source: MDCalc "Ideal Body Weight and Adjusted Body Weight" (ABW = IBW + 0.4 (TBW - IBW));
    Bauer LA, Applied Clinical Pharmacokinetics, 2nd ed. 2008.
    """
    ibw = ideal_body_weight(sex, height_cm)
    return ibw + 0.4 * (weight_kg - ibw)


def body_surface_area(weight_kg: float, height_cm: float) -> float:
    """Body surface area (Mosteller), m²: sqrt(height cm x weight kg / 3600).

    Source: Mosteller RD. Simplified calculation of body-surface area. N Engl J Med 1987;317:1098;
    MDCalc "Body Surface Area Calculator".
    """
    return math.sqrt(weight_kg * height_cm / 3600.0)


def target_weight(target_bmi: float, height_cm: float) -> float:
    """Weight (kg) at which a patient of this height has the target BMI: BMI x height².

    Source: rearranged BMI definition (WHO TRS 894); MDCalc "Target Weight".
    """
    h = height_cm / 100.0
    return target_bmi * h * h


def maintenance_fluids(weight_kg: float) -> float:
    """Maintenance IV fluid rate, mL/h, by the 4-2-1 rule.

    4 mL/kg/h for the first 10 kg, 2 mL/kg/h for the next 10 kg, 1 mL/kg/h above 20 kg.
    Source: Holliday MA, Segar WE. The maintenance need for water in parenteral fluid therapy.
    Pediatrics 1957;19:823-832; MDCalc "Maintenance Fluids Calculations".
    """
    if weight_kg <= 10:
        return 4.0 * weight_kg
    if weight_kg <= 20:
        return 40.0 + 2.0 * (weight_kg - 10.0)
    return 60.0 + (weight_kg - 20.0)
