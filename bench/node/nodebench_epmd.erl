%% The node benchmark's stand-in for epmd (bench/node): no epmd daemon on port 4369; a node
%% named NAMEDIGITS@HOST listens on TCP port DIGITS (14240..14249 in bench/node/run.py).
%% Used with -start_epmd false -epmd_module nodebench_epmd.
-module(nodebench_epmd).
-export([start_link/0, register_node/2, register_node/3, listen_port_please/2,
         port_please/2, port_please/3, address_please/3, names/0, names/1]).

start_link() -> ignore.

register_node(Name, Port) -> register_node(Name, Port, inet_tcp).
register_node(_Name, _Port, _Driver) -> {ok, 4 + rand:uniform(16#ffffff)}.

listen_port_please(Name, _Host) -> {ok, port_of(Name)}.

port_please(Name, Host) -> port_please(Name, Host, infinity).
port_please(Name, _Host, _Timeout) -> {port, port_of(Name), 6}.

address_please(_Name, Host, AddressFamily) -> inet:getaddr(Host, AddressFamily).

names() -> {error, address}.
names(_Host) -> {error, address}.

port_of(Name) when is_atom(Name) -> port_of(atom_to_list(Name));
port_of(Name) ->
    list_to_integer(lists:dropwhile(fun(C) -> C < $0 orelse C > $9 end, Name)).
