// The version INFO and /api/v1/server report; a test keeps it equal to package.json's.
export const railgunVersion = '0.1.0'
