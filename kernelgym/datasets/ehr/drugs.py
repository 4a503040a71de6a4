"""Prescription formulations, written the way MIMIC-III's ``prescriptions`` table writes them.

Drug names, strengths, doses, units and routes are realistic hospital orders. ``gsn`` and ``ndc``
have MIMIC's formats (6 and 11 digits) but are synthetic: derived from a hash of the formulary code,
they do not identify real products.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Rx:
    """One orderable formulation."""

    drug: str
    generic: str
    formulary_drug_cd: str
    prod_strength: str
    dose_val_rx: str
    dose_unit_rx: str
    form_val_disp: str
    form_unit_disp: str
    route: str
    drug_type: str = "MAIN"
    poe: str | None = None  # drug_name_poe, when it differs from drug

    @property
    def drug_name_poe(self) -> str:
        return self.poe or self.drug

    @property
    def gsn(self) -> str:
        return f"{_digits('gsn' + self.formulary_drug_cd) % 10**6:06d}"

    @property
    def ndc(self) -> str:
        return f"{_digits('ndc' + self.formulary_drug_cd + self.prod_strength) % 10**11:011d}"


def _digits(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


DRUGS: Final[dict[str, Rx]] = {
    # antibiotics
    "vancomycin": Rx("Vancomycin", "Vancomycin", "VANC1F", "1g Frozen Bag", "1000", "mg", "1", "BAG", "IV"),
    "piptazo": Rx("Piperacillin-Tazobactam", "Piperacillin-Tazobactam Na", "PIPT4.5F", "4.5 g Frozen Bag", "4.5", "g", "1", "BAG", "IV"),
    "cefepime": Rx("Cefepime", "Cefepime", "CEFE2I", "2g Vial", "2", "g", "1", "VIAL", "IV"),
    "meropenem": Rx("Meropenem", "Meropenem", "MERO500I", "500mg Vial", "1000", "mg", "2", "VIAL", "IV"),
    "ceftriaxone": Rx("CeftriaXONE", "CeftriaXONE", "CEFT1F", "1gm Frozen Bag", "1", "gm", "1", "BAG", "IV"),
    "azithromycin": Rx("Azithromycin", "Azithromycin", "AZIT500I", "500 mg Vial", "500", "mg", "1", "VIAL", "IV"),
    "levofloxacin": Rx("Levofloxacin", "Levofloxacin", "LEVO750PM", "750mg/150mL Premix", "750", "mg", "1", "BAG", "IV"),
    "metronidazole": Rx("MetRONIDAZOLE (FLagyl)", "MetRONIDAZOLE (FLagyl)", "METR500PM", "500mg/100mL Premix", "500", "mg", "1", "BAG", "IV"),
    "cipro_po": Rx("Ciprofloxacin HCl", "Ciprofloxacin HCl", "CIPR500", "500mg Tablet", "500", "mg", "1", "TAB", "PO"),
    # cardiovascular
    "furosemide_iv": Rx("Furosemide", "Furosemide", "FURO40I", "40mg/4mL Vial", "40", "mg", "1", "VIAL", "IV"),
    "furosemide_po": Rx("Furosemide", "Furosemide", "FURO40", "40mg Tablet", "40", "mg", "1", "TAB", "PO"),
    "metoprolol_po": Rx("Metoprolol Tartrate", "Metoprolol Tartrate", "METO25", "25mg Tablet", "25", "mg", "1", "TAB", "PO"),
    "metoprolol_iv": Rx("Metoprolol Tartrate", "Metoprolol Tartrate", "METO5I", "5mg/5mL Vial", "5", "mg", "1", "VIAL", "IV"),
    "lisinopril": Rx("Lisinopril", "Lisinopril", "LISI10", "10mg Tablet", "10", "mg", "1", "TAB", "PO"),
    "amlodipine": Rx("Amlodipine", "Amlodipine", "AMLO5", "5 mg Tab", "5", "mg", "1", "TAB", "PO"),
    "aspirin81": Rx("Aspirin", "Aspirin", "ASA81", "81mg Tab", "81", "mg", "1", "TAB", "PO"),
    "aspirin325": Rx("Aspirin", "Aspirin", "ASA325", "325mg Tablet", "325", "mg", "1", "TAB", "PO"),
    "atorvastatin": Rx("Atorvastatin", "Atorvastatin", "ATOR80", "80mg Tablet", "80", "mg", "1", "TAB", "PO"),
    "atorvastatin_low": Rx("Atorvastatin", "Atorvastatin", "ATOR10", "10mg Tablet", "10", "mg", "1", "TAB", "PO"),
    "clopidogrel": Rx("Clopidogrel", "Clopidogrel", "CLOP75", "75 mg Tablet", "75", "mg", "1", "TAB", "PO"),
    "warfarin": Rx("Warfarin", "Warfarin", "WARF5", "5mg Tablet", "5", "mg", "1", "TAB", "PO"),
    "heparin_sc": Rx("Heparin", "Heparin Sodium", "HEPA5I", "5000 Units / mL- 1mL Vial", "5000", "UNIT", "1", "mL", "SC"),
    "heparin_drip": Rx("Heparin Sodium", "Heparin Sodium", "HEPAPREMIX", "25,000 unit Premix Bag", "25,000", "UNIT", "1", "BAG", "IV"),
    "norepinephrine": Rx("NORepinephrine", "NORepinephrine", "NORE4I", "4mg/4mL Vial", "4", "mg", "1", "VIAL", "IV DRIP"),
    "phenylephrine": Rx("Phenylephrine", "Phenylephrine HCl", "PHEN10I", "10mg/mL Vial", "60", "mg", "6", "VIAL", "IV DRIP"),
    # gastrointestinal / liver
    "pantoprazole_iv": Rx("Pantoprazole Sodium", "Pantoprazole Sodium", "PANT40I", "40mg Vial", "40", "mg", "1", "VIAL", "IV"),
    "pantoprazole_po": Rx("Pantoprazole", "Pantoprazole", "PANT40", "40mg Tablet", "40", "mg", "1", "TAB", "PO"),
    "octreotide": Rx("Octreotide Acetate", "Octreotide Acetate", "OCTR50I", "50mcg/mL Vial", "50", "mcg", "1", "mL", "IV"),
    "lactulose": Rx("Lactulose", "Lactulose", "LACT30L", "20g/30mL Cup", "30", "mL", "1", "UDCUP", "PO"),
    "rifaximin": Rx("Rifaximin", "Rifaximin", "RIFA550", "550mg Tablet", "550", "mg", "1", "TAB", "PO"),
    "spironolactone": Rx("Spironolactone", "Spironolactone", "SPIR25", "25mg Tablet", "50", "mg", "2", "TAB", "PO"),
    "docusate": Rx("Docusate Sodium", "Docusate Sodium", "DOCU100", "100mg Capsule", "100", "mg", "1", "CAP", "PO"),
    "bisacodyl": Rx("Bisacodyl", "Bisacodyl", "BISA10R", "10mg Suppository", "10", "mg", "1", "SUPP", "PR"),
    "nicotine": Rx("Nicotine Patch", "Nicotine Patch", "NICO14T", "14 mg/24 hr Patch", "14", "mg", "1", "PTCH", "TP"),
    "senna": Rx("Senna", "Senna", "SENN187", "1 Tablet", "1", "TAB", "1", "TAB", "PO"),
    "ondansetron": Rx("Ondansetron", "Ondansetron", "ONDA2I", "2mg/mL-2mL", "4", "mg", "1", "VIAL", "IV"),
    # endocrine
    "insulin_ss": Rx("Insulin", "Insulin - Sliding Scale", "INSULIN", "Dummy Package for Sliding Scale", "0", "UNIT", "0", "VIAL", "SC"),
    "insulin_glargine": Rx("Insulin", "Insulin Glargine", "GLAR100I", "100 Units / mL - 10 mL Vial", "20", "UNIT", "0.02", "VIAL", "SC"),
    "insulin_drip": Rx("Insulin Human Regular", "Insulin Human Regular", "INSU100I", "100 Units / mL - 10 mL Vial", "100", "UNIT", "0.1", "VIAL", "IV DRIP"),
    "levothyroxine": Rx("Levothyroxine Sodium", "Levothyroxine Sodium", "LEVO75", "75mcg Tablet", "75", "mcg", "1", "TAB", "PO"),
    "prednisone": Rx("PredniSONE", "PredniSONE", "PRED20", "20mg Tab", "40", "mg", "2", "TAB", "PO"),
    "methylpred": Rx("MethylPREDNISolone Sodium Succ", "MethylPREDNISolone Sodium Succ", "METH125I", "125mg Vial", "125", "mg", "1", "VIAL", "IV"),
    # respiratory
    "albuterol_neb": Rx("Albuterol 0.083% Neb Soln", "Albuterol 0.083% Neb Soln", "ALBU3H", "0.083%;3mL Vial", "1", "NEB", "1", "VIAL", "IH"),
    "ipratropium_neb": Rx("Ipratropium Bromide Neb", "Ipratropium Bromide Neb", "IPRA2H", "2.5mL Vial", "1", "NEB", "1", "VIAL", "IH"),
    # analgesia / sedation / neuro
    "acetaminophen": Rx("Acetaminophen", "Acetaminophen", "ACET325", "325mg Tablet", "650", "mg", "2", "TAB", "PO"),
    "oxycodone": Rx("OxycoDONE (Immediate Release)", "OxycoDONE (Immediate Release)", "OXYC5", "5mg Tablet", "5", "mg", "1", "TAB", "PO"),
    "morphine": Rx("Morphine Sulfate", "Morphine Sulfate", "MORP2I", "2mg Syringe", "2", "mg", "1", "SYR", "IV"),
    "propofol": Rx("Propofol", "Propofol", "PROP100IG", "1000mg/100mL Vial", "1000", "mg", "1", "VIAL", "IV DRIP"),
    "fentanyl": Rx("Fentanyl Citrate", "Fentanyl Citrate", "FENT2I", "100mcg/2mL Amp", "25", "mcg", "0.5", "AMP", "IV"),
    "levetiracetam": Rx("LeVETiracetam", "LeVETiracetam", "LEVE500", "500mg Tablet", "500", "mg", "1", "TAB", "PO"),
    "sertraline": Rx("Sertraline", "Sertraline", "SERT50", "50mg Tablet", "50", "mg", "1", "TAB", "PO"),
    "thiamine": Rx("Thiamine", "Thiamine", "THIA100", "100mg Tablet", "100", "mg", "1", "TAB", "PO"),
    "folic_acid": Rx("FoLIC Acid", "FoLIC Acid", "FOLI1", "1mg Tablet", "1", "mg", "1", "TAB", "PO"),
    "tpa": Rx("Alteplase (Stroke)", "Alteplase", "ALTE100I", "100mg Vial", "0.9", "mg/kg", "1", "VIAL", "IV"),
    # electrolytes and fluids
    "kcl_po": Rx("Potassium Chloride", "Potassium Chloride", "POTA20", "20 mEq SR Tablet", "40", "mEq", "2", "TAB", "PO"),
    "kcl_iv": Rx("Potassium Chloride", "Potassium Chloride", "KCLBASE2", "20mEq/50mL Premix", "20", "mEq", "1", "BAG", "IV"),
    "mag_iv": Rx("Magnesium Sulfate", "Magnesium Sulfate", "MAG2PM", "2 g / 50 mL Premix Bag", "2", "gm", "1", "BAG", "IV"),
    "ns_bolus": Rx("0.9% Sodium Chloride", "Sodium Chloride 0.9%", "NS1000", "1000mL Bag", "1000", "mL", "1", "BAG", "IV", "BASE"),
    "ns_flush": Rx("Sodium Chloride 0.9%  Flush", "Sodium Chloride 0.9%  Flush", "NACLFLUSH", "Syringe", "3", "mL", "0.6", "SYR", "IV"),
    "lr": Rx("Lactated Ringers", "Lactated Ringers", "LR1000", "1000mL Bag", "1000", "mL", "1", "BAG", "IV", "BASE"),
    "d5w": Rx("D5W", "Dextrose 5%", "D5W250", "250mL Bag", "250", "mL", "1", "BAG", "IV", "BASE"),
    "bicarb": Rx("Sodium Bicarbonate", "Sodium Bicarbonate", "SODI8I", "50mEq Vial", "50", "mEq", "1", "VIAL", "IV"),
    "calcium_gluc": Rx("Calcium Gluconate", "Calcium Gluconate", "CALG1I", "1g/10mL Vial", "1", "gm", "1", "VIAL", "IV"),
}
