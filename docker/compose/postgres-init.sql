-- One database for Kratos, one for Gatehouse (as the local stack and production have).
CREATE DATABASE kratos;
CREATE DATABASE gatehouse;
