/**
 * Physical constants in OpenMM units (nm, kJ/mol, e), as defined by OpenMM 7.7's
 * SimTKOpenMMRealType.h from the 2019 SI values.
 */

/** 1/(4π ε0) in kJ·nm/(mol·e²): 1/(4π · 1e−6 · 8.8541878128e−12 / (e² N_A)). */
export const ONE_4PI_EPS0 = 138.93545764438198;

/** Molar gas constant R = k_B·N_A in kJ/(mol·K). */
export const MOLAR_GAS_CONSTANT = 8.314462618e-3;
