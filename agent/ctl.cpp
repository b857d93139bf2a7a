// The agent's verbs. See ctl.h.
#include "ctl.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "control.h"

namespace wanlb {

namespace {

// A verb only the running agent can do: send it, print the answer.
int agent_verb(const nlohmann::json& request) {
  try {
    nlohmann::json reply = control_request(control_socket_path(), request, 30000);
    if (!reply.value("ok", false)) {
      std::cerr << "wanlb: " << reply.value("error", std::string("the agent refused")) << "\n";
      return reply.value("config_error", false) ? 2 : 1;
    }
    if (reply.contains("result") && reply["result"].is_string())
      std::cout << reply["result"].get<std::string>() << "\n";
    return 0;
  } catch (const NoAgentError& e) {
    std::cerr << "wanlb: " << e.what() << "\n";
    return 3;
  } catch (const std::exception& e) {  // a timeout, a broken reply
    std::cerr << "wanlb: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int cmd_reload() { return agent_verb({{"cmd", "reload"}}); }

int cmd_drain(const std::string& wan, bool drain) {
  return agent_verb({{"cmd", drain ? "drain" : "undrain"}, {"wan", wan}});
}

}  // namespace wanlb
