mod remote;
mod servers;
