/** The core-ops release version, printed by `core-ops --version`. */
export const VERSION = "0.1.0";
